/**
 * 照片：先压缩（wx.compressImage），再用 wx.uploadFile 传到 POST /api/v1/uploads（字段 file）。
 * 上传有进度；网络问题自动重试；令牌失效时重新登录一次。
 */
const config = require('../config')
const { ApiError, isRetryable } = require('./errors')
const { apiRoot, errorFrom } = require('./http')

/** 压缩质量（0–100）：现场照片 70 已足够看清，体积约为原图的三分之一。 */
const QUALITY = 70

/**
 * 压缩一张照片；压缩失败（个别机型、格式）就用原图。
 * @param {string} src
 * @returns {Promise<string>}
 */
function compress(src) {
  return new Promise((resolve) => {
    wx.compressImage({
      src,
      quality: QUALITY,
      success: (res) => resolve(res.tempFilePath || src),
      fail: () => resolve(src),
    })
  })
}

/**
 * 上传一次。
 * @param {string} filePath
 * @param {string} token
 * @param {(percent: number) => void} [onProgress]
 * @returns {Promise<{ id: string, url: string, thumbnail_url?: string }>}
 */
function uploadOnce(filePath, token, onProgress) {
  return new Promise((resolve, reject) => {
    const task = wx.uploadFile({
      url: apiRoot() + '/uploads',
      filePath,
      name: 'file',
      header: { Authorization: 'Bearer ' + token },
      timeout: config.requestTimeoutMs * 2,
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          try {
            resolve(typeof res.data === 'string' ? JSON.parse(res.data) : res.data)
          } catch (e) {
            reject(new ApiError(res.statusCode, 'server_error', ''))
          }
        } else {
          reject(errorFrom(res.statusCode, res.data))
        }
      },
      fail(err) {
        reject(new ApiError(0, 'network_error', (err && err.errMsg) || 'uploadFile:fail'))
      },
    })
    if (task && onProgress) task.onProgressUpdate((p) => onProgress(p.progress))
  })
}

/**
 * 压缩并上传一张照片。网络问题最多重试 retries 次（间隔逐次加长）；401 重新登录后再传一次。
 * @param {string} path 本地临时文件
 * @param {{ onProgress?: (percent: number) => void, retries?: number, backoffMs?: number }} [opts]
 * @returns {Promise<{ id: string, url: string, thumbnail_url?: string }>}
 */
async function uploadPhoto(path, opts) {
  const auth = require('./auth')
  const retries = opts && opts.retries !== undefined ? opts.retries : 2
  const backoff = opts && opts.backoffMs !== undefined ? opts.backoffMs : 800
  const file = await compress(path)
  let token = await auth.ensureToken()
  let renewed = false
  for (let attempt = 0; ; attempt++) {
    try {
      return await uploadOnce(file, token, opts && opts.onProgress)
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && !renewed) {
        renewed = true
        token = await auth.renew(token)
        attempt--
        continue
      }
      if (attempt >= retries || !isRetryable(err)) throw err
      await new Promise((r) => setTimeout(r, backoff * (attempt + 1)))
    }
  }
}

module.exports = { uploadPhoto, compress, QUALITY }
