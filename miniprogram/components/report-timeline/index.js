/** 办理过程：每一步的时间、动作、经办人；工作人员的答复突出显示。 */
const { actionLabel, formatTime, statusInfo } = require('../../utils/format')

/**
 * @param {import('../../services/api').TimelineEntry} e
 */
function view(e) {
  const official = e.channel === 'dingtalk' || e.channel === 'console' || (e.actor && e.actor.kind === 'official')
  return {
    key: e.at + e.action,
    time: formatTime(e.at),
    action: actionLabel(e.action),
    status: statusInfo(e.status).label,
    who: e.actor && e.actor.name ? e.actor.name : (e.channel === 'system' ? '系统' : ''),
    note: e.note || '',
    official,
  }
}

Component({
  properties: {
    items: { type: Array, value: [] },
  },
  data: { rows: /** @type {ReturnType<typeof view>[]} */ ([]) },
  observers: {
    items(items) {
      this.setData({ rows: (items || []).map(view) })
    },
  },
})
