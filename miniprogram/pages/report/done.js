/** 提交成功：查询编号、接下来会发生什么，以及服务器说附近还有哪些同类的上报。 */
const flow = require('../../services/report-flow')
const { statusInfo } = require('../../utils/format')

Component({
  data: {
    number: '', township: '', grid: '', category: '',
    nearby: /** @type {Array<{ number: string, summary: string, distance: string, status: string }>} */ ([]),
  },
  methods: {
    /** @param {Record<string, string | undefined>} query */
    onLoad(query) {
      const r = flow.lastReceipt()
      const number = (query && query.number) || (r ? r.number : '')
      const same = r && r.number === number
      this.setData({
        number,
        township: same && r ? r.township : '',
        grid: same && r ? r.grid : '',
        category: same && r ? r.category : '',
        nearby: same && r ? (r.nearby || []).map((n) => ({
          number: n.number, summary: n.summary, distance: '约 ' + Math.max(1, Math.round(n.distance_m)) + ' 米', status: statusInfo(n.status).label,
        })) : [],
      })
    },
    onCopy() {
      wx.setClipboardData({ data: this.data.number })
    },
    onDetail() {
      wx.redirectTo({ url: '/pages/report/detail?number=' + encodeURIComponent(this.data.number) })
    },
    onHome() {
      wx.switchTab({ url: '/pages/index/index' })
    },
  },
})
