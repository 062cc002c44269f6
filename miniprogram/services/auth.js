/**
 * 登录：wx.login 得到一次性 code → POST /auth/wechat-login 换同心的令牌，令牌存在本地。
 * 令牌失效（401）时重新登录一次；同一时刻只发一次登录。
 */
const storage = require('./storage')
const { ApiError } = require('./errors')

/**
 * @typedef {{ token: string, expiresAt: string, resident: { id: number, nickname?: string } }} Session
 */

const KEY = 'session'
/** 令牌剩余不到这么久就当作过期，先重新登录（毫秒）。 */
const MARGIN_MS = 60 * 1000

/** @type {Promise<string> | null} */
let inflight = null

/** @returns {Session | null} */
function currentSession() {
  const s = storage.read(KEY, /** @type {Session | null} */ (null))
  if (!s || typeof s.token !== 'string' || !s.token) return null
  return s
}

/** @param {Session | null} s */
function isFresh(s) {
  if (!s) return false
  const t = Date.parse(s.expiresAt)
  return Number.isNaN(t) ? true : t - Date.now() > MARGIN_MS
}

/** 是否已登录（本地有未过期的令牌）。 */
function isLoggedIn() {
  return isFresh(currentSession())
}

/** @returns {Promise<string>} wx.login 的 code */
function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success(res) {
        if (res.code) resolve(res.code)
        else reject(new ApiError(0, 'network_error', res.errMsg || 'login:fail'))
      },
      fail(err) {
        reject(new ApiError(0, 'network_error', (err && err.errMsg) || 'login:fail'))
      },
    })
  })
}

/**
 * 登录（或重新登录），返回新令牌。并发调用共用同一次登录。
 * @returns {Promise<string>}
 */
function login() {
  if (inflight) return inflight
  const { send } = require('./http')
  inflight = (async () => {
    try {
      const code = await wxLoginCode()
      const out = await send({ method: 'POST', path: '/auth/wechat-login', data: { code } })
      /** @type {Session} */
      const session = { token: out.token, expiresAt: out.expires_at, resident: out.resident }
      storage.write(KEY, session)
      return session.token
    } finally {
      inflight = null
    }
  })()
  return inflight
}

/** @returns {Promise<string>} 可用的令牌：本地的，或者新登录得到的 */
async function ensureToken() {
  const s = currentSession()
  if (s && isFresh(s)) return s.token
  return login()
}

/**
 * 服务器说令牌无效（401）之后调用：若别的请求已经换过新令牌就直接用，否则重新登录。
 * @param {string} [rejectedToken]
 * @returns {Promise<string>}
 */
async function renew(rejectedToken) {
  const s = currentSession()
  if (s && rejectedToken && s.token !== rejectedToken && isFresh(s)) return s.token
  storage.remove(KEY)
  return login()
}

/** 退出登录：吊销令牌（失败也无妨），清掉本地会话。 */
async function logout() {
  const s = currentSession()
  storage.remove(KEY)
  if (!s) return
  const { send } = require('./http')
  try {
    await send({ method: 'POST', path: '/auth/logout' }, s.token)
  } catch (e) {
    // 令牌反正已经不在本地了
  }
}

module.exports = { login, ensureToken, renew, logout, isLoggedIn, currentSession }
