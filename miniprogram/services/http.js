/**
 * 调用同心接口（/api/v1）的唯一出口：加上令牌，解析错误，401 时重新登录一次再重试。
 */
const config = require('../config')
const { ApiError } = require('./errors')

/**
 * @typedef {'GET'|'POST'|'PUT'|'DELETE'} Method
 * @typedef {Object} RequestOptions
 * @property {Method} [method]
 * @property {string} path 以 / 开头，相对 /api/v1
 * @property {Record<string, any>} [query]
 * @property {any} [data]
 * @property {Record<string, string>} [header]
 * @property {boolean} [auth] 是否带令牌（默认带）
 */

/** @returns {string} */
function apiRoot() {
  return String(config.apiBaseUrl).replace(/\/+$/, '') + '/api/v1'
}

/**
 * @param {string} path
 * @param {Record<string, any>} [query]
 */
function buildUrl(path, query) {
  let url = apiRoot() + path
  if (query) {
    const parts = Object.keys(query)
      .filter((k) => query[k] !== undefined && query[k] !== null && query[k] !== '')
      .map((k) => encodeURIComponent(k) + '=' + encodeURIComponent(String(query[k])))
    if (parts.length) url += (url.includes('?') ? '&' : '?') + parts.join('&')
  }
  return url
}

/**
 * 从服务器的回答里取出错误。
 * @param {number} status
 * @param {any} body
 */
function errorFrom(status, body) {
  if (typeof body === 'string') {
    try { body = JSON.parse(body) } catch (e) { body = null }
  }
  const e = body && typeof body === 'object' && body.error
  if (e && typeof e.code === 'string') return new ApiError(status, e.code, String(e.message || ''), e.field)
  return new ApiError(status, status >= 500 ? 'server_error' : 'http_' + status, '')
}

/**
 * 发一次请求，不做重新登录。
 * @param {RequestOptions} opts
 * @param {string} [token]
 * @returns {Promise<any>}
 */
function send(opts, token) {
  /** @type {Record<string, string>} */
  const header = Object.assign({ 'Content-Type': 'application/json' }, opts.header || {})
  if (token) header.Authorization = 'Bearer ' + token
  return new Promise((resolve, reject) => {
    wx.request({
      url: buildUrl(opts.path, opts.query),
      method: opts.method || 'GET',
      data: opts.data,
      header,
      timeout: config.requestTimeoutMs,
      dataType: 'json',
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data)
        else reject(errorFrom(res.statusCode, res.data))
      },
      fail(err) {
        reject(new ApiError(0, 'network_error', (err && err.errMsg) || 'request:fail'))
      },
    })
  })
}

/**
 * 调用接口。需要登录的接口在 401 时重新登录一次（auth.renew）并重试一次。
 * @param {RequestOptions} opts
 * @returns {Promise<any>}
 */
async function request(opts) {
  if (opts.auth === false) return send(opts)
  const auth = require('./auth')
  const token = await auth.ensureToken()
  try {
    return await send(opts, token)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    const fresh = await auth.renew(token)
    return send(opts, fresh)
  }
}

module.exports = { request, send, buildUrl, apiRoot, errorFrom }
