/** 通知公告：发给我所在地方的通知，置顶在前，最新在前；未读的加粗。 */
const api = require('../../services/api')
const { createPager } = require('../../services/pager')
const { explain } = require('../../services/errors')
const { formatTime } = require('../../utils/format')

/** @param {any} n */
const row = (n) => ({
  number: String(n.number),
  title: String(n.title),
  summary: String(n.summary || ''),
  time: formatTime(n.published_at),
  publisher: String(n.publisher || ''),
  pinned: !!n.pinned,
  read: !!n.read,
  withdrawn: n.status === 'withdrawn',
})

/** @type {ReturnType<typeof createPager<any>> | null} */
let pager = null

Component({
  data: { items: /** @type {ReturnType<typeof row>[]} */ ([]), done: false, loaded: false, errorMessage: '' },
  methods: {
    onLoad() {
      pager = createPager((cursor) => api.notices(cursor))
    },
    onShow() {
      return this.refresh()
    },
    async refresh() {
      if (!pager) this.onLoad()
      await this.run(true)
    },
    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },
    onReachBottom() {
      return this.run(false)
    },
    /** @param {boolean} reset */
    async run(reset) {
      const p = pager
      if (!p) return
      try {
        const s = reset ? await p.refresh() : await p.more()
        this.setData({ items: s.items.map(row), done: s.done, loaded: true, errorMessage: '' })
      } catch (err) {
        this.setData({ errorMessage: explain(err), loaded: true })
      }
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onOpen(e) {
      wx.navigateTo({ url: '/pages/notice/detail?number=' + encodeURIComponent(String(e.currentTarget.dataset.number)) })
    },
  },
})
