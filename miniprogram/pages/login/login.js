/** 登录：wx.login → 同心令牌。登录不了时用居民听得懂的话说明原因。 */
const auth = require('../../services/auth')
const { explain } = require('../../services/errors')

Component({
  data: { busy: false, errorMessage: '', redirect: '' },
  methods: {
    /** @param {Record<string, string | undefined>} query */
    onLoad(query) {
      this.setData({ redirect: query && query.redirect ? decodeURIComponent(query.redirect) : '' })
    },
    async onLogin() {
      if (this.data.busy) return false
      this.setData({ busy: true, errorMessage: '' })
      try {
        await auth.renew()
        const to = this.data.redirect
        if (to && !/^\/pages\/(index\/index|report\/list|me\/index)/.test(to)) wx.redirectTo({ url: to })
        else wx.switchTab({ url: to || '/pages/index/index' })
        return true
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
        return false
      } finally {
        this.setData({ busy: false })
      }
    },
    onAbout() {
      wx.navigateTo({ url: '/pages/me/about' })
    },
  },
})
