/** 上报状态徽章：待受理 / 办理中 / 待评价 …（颜色 + 文字，不只靠颜色区分）。 */
const { statusInfo } = require('../../utils/format')

Component({
  properties: {
    status: { type: String, value: '' },
  },
  data: { label: '', tone: 'wait' },
  observers: {
    status(status) {
      const info = statusInfo(String(status || ''))
      this.setData({ label: info.label, tone: info.tone })
    },
  },
  lifetimes: {
    attached() {
      const info = statusInfo(String(this.data.status || ''))
      this.setData({ label: info.label, tone: info.tone })
    },
  },
})
