/** 志愿活动（战地有我）：居住地的活动，正在报名的在前；可切换看全部。 */
const api = require('../../services/api')
const { explain, ApiError } = require('../../services/errors')
const { formatTime } = require('../../utils/format')
const { CAMPAIGN_STATUS, signupText } = require('../../services/community')

/** @param {any} c */
const row = (c) => ({
  number: String(c.number),
  title: String(c.title),
  time: formatTime(c.starts_at) + ' ~ ' + formatTime(c.ends_at).slice(11),
  place: c.place && c.place.name ? String(c.place.name) : '',
  status: CAMPAIGN_STATUS[c.status] || String(c.status),
  seats: c.taken + '/' + c.capacity + (c.waitlisted ? '，候补 ' + c.waitlisted : ''),
  mine: signupText(c.my_signup),
})

Component({
  data: { items: /** @type {ReturnType<typeof row>[]} */ ([]), when: /** @type {'upcoming' | 'all'} */ ('upcoming'), loaded: false, needHome: false, errorMessage: '' },
  methods: {
    onShow() {
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    async load() {
      try {
        const [page, home] = await Promise.all([api.campaigns(this.data.when), api.home()])
        this.setData({ items: page.items.map(row), loaded: true, errorMessage: '', needHome: !home.township })
      } catch (err) {
        this.setData({ errorMessage: explain(err), loaded: true, needHome: err instanceof ApiError && err.code === 'home_required' })
      }
    },
    onToggleWhen() {
      this.setData({ when: this.data.when === 'upcoming' ? 'all' : 'upcoming' })
      return this.load()
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onOpen(e) {
      wx.navigateTo({ url: '/pages/campaign/detail?number=' + encodeURIComponent(String(e.currentTarget.dataset.number)) })
    },
    onHours() {
      wx.navigateTo({ url: '/pages/campaign/hours' })
    },
    onSetHome() {
      wx.navigateTo({ url: '/pages/me/home' })
    },
  },
})
