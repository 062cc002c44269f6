/**
 * 我的上报：自己报的和点了「我也遇到」关注的（徽章「我也遇到」），最新在前；已合并的显示
 * 「已合并」和主上报的链接。滚到底加载下一页（游标），下拉刷新。
 */
const api = require('../../services/api')
const { createPager } = require('../../services/pager')
const { explain } = require('../../services/errors')
const { formatTime } = require('../../utils/format')

/** @param {import('../../services/api').Report} r */
const row = (r) => ({
  number: r.number,
  status: r.status,
  category: r.category.name,
  summary: Array.from(r.description || '').slice(0, 40).join(''),
  time: formatTime(r.created_at),
  following: r.relation === 'following',
  mergedInto: r.status === 'merged' && r.merged_into ? r.merged_into : '',
})

/** @type {ReturnType<typeof createPager<import('../../services/api').Report>> | null} */
let pager = null

Component({
  data: {
    items: /** @type {ReturnType<typeof row>[]} */ ([]),
    done: false,
    loading: false,
    loaded: false,
    errorMessage: '',
  },
  methods: {
    onLoad() {
      pager = createPager((cursor) => api.myReports(cursor, 20))
    },
    onShow() {
      return this.refresh()
    },
    async refresh() {
      if (!pager) this.onLoad()
      await this.run(() => /** @type {NonNullable<typeof pager>} */ (pager).refresh())
    },
    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },
    onReachBottom() {
      if (!pager || this.data.done) return Promise.resolve()
      const p = pager
      return this.run(() => p.more())
    },
    /** @param {() => Promise<any>} load */
    async run(load) {
      if (!pager) return
      this.setData({ loading: true, errorMessage: '' })
      try {
        const s = await load()
        this.setData({ items: s.items.map(row), done: s.done, loaded: true })
      } catch (err) {
        this.setData({ errorMessage: explain(err), loaded: true })
      } finally {
        this.setData({ loading: false })
      }
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onOpen(e) {
      const rel = e.currentTarget.dataset.following ? '&relation=following' : ''
      wx.navigateTo({ url: '/pages/report/detail?number=' + encodeURIComponent(String(e.currentTarget.dataset.number)) + rel })
    },
    /** 已合并的上报：打开它并入的主上报（原上报人关注着它）。 @param {WechatMiniprogram.BaseEvent} e */
    onOpenMain(e) {
      wx.navigateTo({ url: '/pages/report/detail?number=' + encodeURIComponent(String(e.currentTarget.dataset.number)) + '&relation=following' })
    },
    onNew() {
      wx.navigateTo({ url: '/pages/report/new' })
    },
  },
})
