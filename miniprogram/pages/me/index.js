/** 我的：居住地（乡镇/街道、社区、网格）、订阅消息剩余次数、入口（我的上报、志愿时长、关于与隐私）、退出。 */
const api = require('../../services/api')
const auth = require('../../services/auth')
const config = require('../../config')
const subscribe = require('../../services/subscribe')
const { explain } = require('../../services/errors')

/** @type {Record<string, string>} */
const TEMPLATE_NAMES = { reportStatus: '上报办理进度', notice: '新通知', campaign: '志愿活动提醒' }

Component({
  data: {
    home: { township: '', community: '', grid: '' },
    subs: /** @type {Array<{ kind: string, name: string, remaining: number }>} */ ([]),
    errorMessage: '',
    message: '',
  },
  methods: {
    onShow() {
      return this.load()
    },
    async load() {
      try {
        const [h, s] = await Promise.all([api.home(), api.subscriptions()])
        /** @type {Record<string, string>} */
        const ids = config.templates || {}
        const remaining = new Map(s.items.map((x) => [x.template_id, x.remaining]))
        const subs = Object.keys(TEMPLATE_NAMES).filter((k) => subscribe.templateIds([/** @type {any} */ (k)]).length)
          .map((k) => ({ kind: k, name: TEMPLATE_NAMES[k], remaining: remaining.get(ids[k]) || 0 }))
        this.setData({
          home: { township: h.township ? h.township.name : '', community: h.community ? h.community.name : '', grid: h.grid ? h.grid.name : '' },
          subs,
          errorMessage: '',
        })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    onEditHome() {
      wx.navigateTo({ url: '/pages/me/home' })
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onSubscribe(e) {
      const kind = /** @type {'reportStatus'|'notice'|'campaign'} */ (e.currentTarget.dataset.kind)
      return subscribe.ask([kind]).then((ok) => {
        this.setData({ message: ok.length ? '已开启一次提醒。' : '没有开启提醒（可以随时再点）。' })
        return this.load()
      })
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onOpen(e) {
      const url = String(e.currentTarget.dataset.url)
      if (url === '/pages/report/list') wx.switchTab({ url })
      else wx.navigateTo({ url })
    },
    async onLogout() {
      await auth.logout()
      wx.reLaunch({ url: '/pages/login/login' })
    },
  },
})
