/** 显示用的文字：状态、时间、类别说明。 */

/** @type {Record<string, { label: string, tone: string, hint: string }>} */
const STATUS = {
  pending: { label: '待受理', tone: 'wait', hint: '已送到所在乡镇/街道的工作群，等待工作人员受理。' },
  accepted: { label: '办理中', tone: 'work', hint: '工作人员已受理，正在办理。' },
  transferred: { label: '已转办', tone: 'work', hint: '已转给县里的职能部门办理。' },
  resolved: { label: '待评价', tone: 'done', hint: '工作人员说已经办好了。请看看处理结果并评价；没解决可以要求重办。' },
  closed: { label: '已完结', tone: 'closed', hint: '这件事已经办完并评价过了。' },
  rejected: { label: '未受理', tone: 'stop', hint: '这条上报没有被受理，原因见下方说明。' },
  merged: { label: '已合并', tone: 'closed', hint: '同一件事已经有人报过，合并到那一条一起办理。' },
}

/** @param {string} status */
function statusInfo(status) {
  return STATUS[status] || { label: status, tone: 'wait', hint: '' }
}

/** @type {Record<string, string>} */
const ACTIONS = {
  created: '提交上报',
  submit: '提交上报',
  submitted: '提交上报',
  accept: '受理',
  accepted: '受理',
  resolve: '办结',
  resolved: '办结',
  reject: '不予受理',
  rejected: '不予受理',
  transfer: '转办',
  transferred: '转办',
  reopen: '要求重办',
  reopened: '要求重办',
  rate: '评价',
  rated: '评价',
  close: '自动完结',
  closed: '自动完结',
  overdue: '超时督办',
  follow_up: '回访重办',
  assign: '指派网格',
  merge: '合并',
  volunteer: '志愿协助',
  remind: '催办',
  escalate: '上报上级',
  handover: 'B 岗接办',
}

/** @param {string} action */
function actionLabel(action) {
  return ACTIONS[action] || action
}

/**
 * 类别说明：服务器的类别暂时没有说明文字时用这里的（按 code）。
 * @type {Record<string, string>}
 */
const CATEGORY_HELP = {
  sanitation: '垃圾没人清、污水横流、卫生死角等',
  road: '路面坑洼、塌陷、人行道砖松动等',
  streetlight: '路灯不亮、常亮、灯杆歪倒等',
  drainage: '井盖丢失破损、下水道堵塞、积水等',
  greenery: '树木倒伏、枯枝、绿地毁坏等',
  parking: '占道停车、堵消防通道、堵小区门口等',
  construction: '私搭乱建、违规圈占等',
  noise: '夜间施工、商铺喇叭扰民等',
  safety: '电线裸露、墙体开裂、危险广告牌等（正在发生的危险请先拨打 110/119）',
  dispute: '邻里、物业等矛盾，需要社区出面调解',
  other: '以上都不是的问题',
}

/** @param {{ code: string, help?: string }} c */
function categoryHelp(c) {
  return c.help || CATEGORY_HELP[c.code] || ''
}

/** @param {number} n */
const pad = (n) => (n < 10 ? '0' + n : String(n))

/**
 * 北京时间 “2026-12-06 09:30”
 * @param {string | null | undefined} iso
 */
function formatTime(iso) {
  if (!iso) return ''
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return String(iso)
  const d = new Date(t + 8 * 3600 * 1000)
  return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes())
}

/** @param {number} h 志愿时长 “2.5 小时” */
function formatHours(h) {
  const v = Math.round((Number(h) || 0) * 10) / 10
  return v + ' 小时'
}

module.exports = { STATUS, statusInfo, actionLabel, categoryHelp, formatTime, formatHours, CATEGORY_HELP }
