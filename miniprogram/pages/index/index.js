/** 首页：随手拍入口、本地最新通知、正在报名的志愿活动、等我评价的上报。 */
const api = require('../../services/api')
const auth = require('../../services/auth')
const drafts = require('../../services/draft')
const { explain } = require('../../services/errors')
const { formatTime } = require('../../utils/format')
const { CAMPAIGN_STATUS, signupText } = require('../../services/community')

Component({
  data: {
    notices: /** @type {Array<{ number: string, title: string, time: string, pinned: boolean, read: boolean }>} */ ([]),
    campaigns: /** @type {Array<{ number: string, title: string, time: string, status: string, mine: string }>} */ ([]),
    toRate: /** @type {Array<{ number: string, category: string, status: string }>} */ ([]),
    hasDraft: false,
    errorMessage: '',
    loaded: false,
  },
  methods: {
    onShow() {
      if (!auth.isLoggedIn()) {
        wx.navigateTo({ url: '/pages/login/login' })
        return Promise.resolve()
      }
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    async load() {
      const d = drafts.load()
      this.setData({ hasDraft: !!(d && drafts.hasContent(d)), errorMessage: '' })
      try {
        const [n, c, r] = await Promise.all([api.notices(), api.campaigns('upcoming'), api.myReports(null, 50)])
        this.setData({
          notices: n.items.slice(0, 3).map((/** @type {any} */ x) => ({ number: x.number, title: x.title, time: formatTime(x.published_at), pinned: x.pinned, read: x.read })),
          campaigns: c.items.filter((/** @type {any} */ x) => x.status === 'published').slice(0, 3).map((/** @type {any} */ x) => ({
            number: x.number, title: x.title, time: formatTime(x.starts_at), status: CAMPAIGN_STATUS[x.status] || x.status, mine: signupText(x.my_signup),
          })),
          toRate: r.items.filter((x) => x.status === 'resolved' && x.relation !== 'following').map((x) => ({ number: x.number, category: x.category.name, status: x.status })),
          loaded: true,
        })
      } catch (err) {
        this.setData({ errorMessage: explain(err), loaded: true })
      }
    },
    onReport() {
      wx.navigateTo({ url: '/pages/report/new' })
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onOpen(e) {
      wx.navigateTo({ url: String(e.currentTarget.dataset.url) })
    },
  },
})
