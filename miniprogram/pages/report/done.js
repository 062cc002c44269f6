/** 提交成功：查询编号，以及接下来会发生什么。 */
const flow = require('../../services/report-flow')

Component({
  data: { number: '', township: '', grid: '', category: '' },
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
