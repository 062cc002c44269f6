/** 显示用的文字：状态、时间、办理单位是怎么定的。 */

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
 * 按位置推荐的办理单位是怎么定的，说给居民听（GET /locate 的 rule）。
 * @param {{ township: { name: string } | null, grid: { name: string, community?: string } | null, rule: string, distance_m?: number | null }} found
 */
function routeText(found) {
  const grid = found.grid ? (found.grid.community ? found.grid.community + ' ' : '') + found.grid.name : ''
  const town = found.township ? found.township.name : '所在乡镇/街道'
  if (found.rule === 'boundary' && grid) return '位置在' + grid + '的范围内，由这个网格的网格员办理。'
  if (found.rule === 'nearest_centre' && grid) {
    const d = typeof found.distance_m === 'number' ? '（约 ' + Math.round(found.distance_m) + ' 米）' : ''
    return '位置不在哪个网格的范围内，交给离得最近的' + grid + d + '。'
  }
  if (found.rule === 'home' && grid) return '附近没有网格，交给您登记的居住网格' + grid + '。'
  return '附近没有网格，由' + town + '安排网格员办理。'
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

module.exports = { STATUS, statusInfo, actionLabel, routeText, formatTime, formatHours }
