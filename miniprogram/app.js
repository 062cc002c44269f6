/**
 * 同心 居民端。页面逻辑在 services/ 里，页面只负责显示和转发点击。
 */
const auth = require('./services/auth')

App({
  onLaunch() {
    // 有没过期的令牌就直接用；没有时首页会带居民去登录页。
    this.globalData.loggedIn = auth.isLoggedIn()
  },
  globalData: {
    loggedIn: false,
  },
})
