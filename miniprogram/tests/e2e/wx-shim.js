/**
 * 端到端测试的 wx：网络（request、uploadFile）走真实 HTTP 到 `tongxin serve`；wx.login 向假微信
 * 要一次性 code（就像手机上的微信客户端那样）；同意订阅时在假微信里记下授权（就像微信服务器那样）；
 * 本地存储在内存里。我们自己接口的回答一个也不伪造。
 *
 * faults：测试可以安排一次“网络故障”，比如请求已经到了服务器、回答却丢在路上（drop-response），
 * 或请求根本没发出去（fail-before-send）。
 */
const fs = require('fs')
const http = require('http')
const path = require('path')
const { Buffer } = require('buffer')

/** jsdom 环境里没有 setImmediate。 @param {() => void} fn */
const setTimeout0 = (fn) => setTimeout(fn, 0)

/** @param {any} v */
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)))

/**
 * @param {string} url @param {{ method?: string, headers?: Record<string, string>, body?: Buffer, onSent?: (sent: number, total: number) => void }} opts
 * @returns {Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }>}
 */
function httpCall(url, opts) {
  return new Promise((resolve, reject) => {
    const body = opts.body || Buffer.alloc(0)
    const headers = Object.assign({}, opts.headers || {})
    if (body.length || opts.method === 'POST' || opts.method === 'PUT') headers['Content-Length'] = String(body.length)
    const req = http.request(url, { method: opts.method || 'GET', headers }, (res) => {
      const parts = /** @type {Buffer[]} */ ([])
      res.on('data', (c) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode || 0, headers: res.headers, body: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(20000, () => req.destroy(new Error('timeout')))
    // 分块写出，好让上传进度有意义
    const step = Math.max(16 * 1024, Math.ceil(body.length / 4))
    for (let i = 0; i < body.length; i += step) {
      req.write(body.subarray(i, i + step))
      if (opts.onSent) opts.onSent(Math.min(i + step, body.length), body.length)
    }
    req.end()
  })
}

/** @param {string} url @param {any} data */
async function postJson(url, data) {
  const res = await httpCall(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(data)) })
  const text = res.body.toString('utf8')
  if (res.status >= 400) throw new Error(`POST ${url} → ${res.status} ${text}`)
  return JSON.parse(text)
}

/** @param {http.IncomingHttpHeaders} headers @param {Buffer} body */
function decode(headers, body) {
  const text = body.toString('utf8')
  if (String(headers['content-type'] || '').includes('json')) {
    try { return JSON.parse(text) } catch (e) { return text }
  }
  return text
}

/**
 * @param {{ wechat: string, openid: string, tmpDir: string, location?: { lat: number, lng: number } }} opts
 */
function createRealWx(opts) {
  const store = new Map()
  /** @type {Array<{ method: string, pathPart: string, mode: 'drop-response' | 'fail-before-send' }>} */
  const faults = []
  const calls = { request: /** @type {Array<{ method: string, url: string, status: number }>} */ ([]), upload: /** @type {Array<{ url: string, progress: number[], status: number }>} */ ([]), navigate: /** @type {string[][]} */ ([]), subscribe: /** @type {string[][]} */ ([]), modal: /** @type {any[]} */ ([]) }
  const state = {
    media: /** @type {string[]} */ ([]),
    location: opts.location || null,
    scan: '',
    modalConfirm: true,
  }
  let fileSeq = 0

  /** @param {string} method @param {string} url */
  function takeFault(method, url) {
    const i = faults.findIndex((f) => f.method === method && url.includes(f.pathPart))
    return i >= 0 ? faults.splice(i, 1)[0] : null
  }

  const wx = {
    getStorageSync: (/** @type {string} */ k) => (store.has(k) ? clone(store.get(k)) : ''),
    setStorageSync: (/** @type {string} */ k, /** @type {any} */ v) => { store.set(k, clone(v)) },
    removeStorageSync: (/** @type {string} */ k) => { store.delete(k) },

    /** @param {any} o */
    request(o) {
      const method = o.method || 'GET'
      const fault = takeFault(method, o.url)
      const headers = Object.assign({}, o.header || {})
      let body = Buffer.alloc(0)
      if (o.data !== undefined && method !== 'GET') {
        body = Buffer.from(typeof o.data === 'string' ? o.data : JSON.stringify(o.data))
      }
      let url = o.url
      if (o.data && method === 'GET' && typeof o.data === 'object') {
        const q = new URLSearchParams(o.data).toString()
        if (q) url += (url.includes('?') ? '&' : '?') + q
      }
      setTimeout0(async () => {
        if (fault && fault.mode === 'fail-before-send') {
          calls.request.push({ method, url, status: -1 })
          o.fail && o.fail({ errMsg: 'request:fail timeout' })
          return
        }
        try {
          const res = await httpCall(url, { method, headers, body })
          calls.request.push({ method, url, status: res.status })
          if (fault && fault.mode === 'drop-response') {
            o.fail && o.fail({ errMsg: 'request:fail timeout' })
            return
          }
          o.success && o.success({ statusCode: res.status, data: decode(res.headers, res.body), header: res.headers, errMsg: 'request:ok' })
        } catch (err) {
          calls.request.push({ method, url, status: 0 })
          o.fail && o.fail({ errMsg: 'request:fail ' + /** @type {Error} */ (err).message })
        }
      })
      return { abort() {} }
    },

    /** @param {any} o */
    uploadFile(o) {
      /** @type {Array<(p: { progress: number, totalBytesSent: number, totalBytesExpectedToSend: number }) => void>} */
      const listeners = []
      const fault = takeFault('UPLOAD', o.url)
      const record = { url: o.url, progress: /** @type {number[]} */ ([]), status: 0 }
      calls.upload.push(record)
      setTimeout0(async () => {
        if (fault && fault.mode === 'fail-before-send') {
          record.status = -1
          o.fail && o.fail({ errMsg: 'uploadFile:fail timeout' })
          return
        }
        try {
          const file = fs.readFileSync(o.filePath)
          const boundary = '----tongxin-e2e-' + Date.now().toString(16)
          const name = path.basename(o.filePath)
          const type = name.endsWith('.png') ? 'image/png' : 'image/jpeg'
          const body = Buffer.concat([
            Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${o.name}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`),
            file,
            Buffer.from(`\r\n--${boundary}--\r\n`),
          ])
          const headers = Object.assign({}, o.header || {}, { 'Content-Type': 'multipart/form-data; boundary=' + boundary })
          const res = await httpCall(o.url, {
            method: 'POST', headers, body,
            onSent: (sent, total) => {
              const progress = Math.round(sent * 100 / total)
              record.progress.push(progress)
              listeners.forEach((l) => l({ progress, totalBytesSent: sent, totalBytesExpectedToSend: total }))
            },
          })
          record.status = res.status
          if (fault && fault.mode === 'drop-response') {
            o.fail && o.fail({ errMsg: 'uploadFile:fail timeout' })
            return
          }
          // 和真机一样，uploadFile 的 data 是字符串
          o.success && o.success({ statusCode: res.status, data: res.body.toString('utf8'), errMsg: 'uploadFile:ok' })
        } catch (err) {
          o.fail && o.fail({ errMsg: 'uploadFile:fail ' + /** @type {Error} */ (err).message })
        }
      })
      return { onProgressUpdate: (/** @type {any} */ fn) => listeners.push(fn), abort() {} }
    },

    /** @param {any} o 手机上的微信客户端向微信服务器要 code；这里向假微信要 */
    login(o) {
      postJson(opts.wechat + '/_fake/login-code', { openid: opts.openid })
        .then((r) => o.success && o.success({ code: r.code, errMsg: 'login:ok' }))
        .catch((e) => o.fail && o.fail({ errMsg: 'login:fail ' + e.message }))
    },

    /** @param {any} o 居民点了“允许”：微信服务器记下一次授权（假微信），客户端得到 accept */
    requestSubscribeMessage(o) {
      calls.subscribe.push(o.tmplIds)
      Promise.all(o.tmplIds.map((/** @type {string} */ id) => postJson(opts.wechat + '/_fake/consents', { openid: opts.openid, template_id: id, count: 1 })))
        .then(() => {
          /** @type {Record<string, string>} */
          const res = { errMsg: 'requestSubscribeMessage:ok' }
          o.tmplIds.forEach((/** @type {string} */ id) => { res[id] = 'accept' })
          o.success && o.success(res)
        })
        .catch((e) => o.fail && o.fail({ errMsg: 'requestSubscribeMessage:fail ' + e.message }))
    },

    /** @param {any} o */
    chooseMedia(o) {
      const picked = state.media.splice(0, o.count)
      setTimeout0(() => o.success({ type: 'image', tempFiles: picked.map((p) => ({ tempFilePath: p, size: fs.statSync(p).size, fileType: 'image' })) }))
    },
    /** @param {any} o 手机端压缩由系统完成；这里复制成新的临时文件 */
    compressImage(o) {
      const out = path.join(opts.tmpDir, `compressed-${++fileSeq}-${path.basename(o.src)}`)
      fs.copyFileSync(o.src, out)
      setTimeout0(() => o.success({ tempFilePath: out, errMsg: 'compressImage:ok' }))
    },
    /** @param {any} o */
    getLocation(o) {
      setTimeout0(() => (state.location
        ? o.success({ latitude: state.location.lat, longitude: state.location.lng, accuracy: 10, errMsg: 'getLocation:ok' })
        : o.fail({ errMsg: 'getLocation:fail auth deny' })))
    },
    /** @param {any} o */
    chooseLocation(o) {
      setTimeout0(() => o.fail({ errMsg: 'chooseLocation:fail cancel' }))
    },
    /** @param {any} o 对准了官员手机上的签到二维码 */
    scanCode(o) {
      setTimeout0(() => (state.scan ? o.success({ result: state.scan, scanType: 'QR_CODE', errMsg: 'scanCode:ok' }) : o.fail({ errMsg: 'scanCode:fail cancel' })))
    },
    /** @param {any} o */
    showModal(o) {
      calls.modal.push(o)
      setTimeout0(() => o.success && o.success({ confirm: state.modalConfirm, cancel: !state.modalConfirm }))
    },
    showToast() {},
    showLoading() {},
    hideLoading() {},
    previewImage() {},
    stopPullDownRefresh() {},
    /** @param {any} o */
    setClipboardData(o) { o.success && o.success({}) },
    /** @param {any} o */
    navigateTo(o) { calls.navigate.push(['navigateTo', o.url]) },
    /** @param {any} o */
    redirectTo(o) { calls.navigate.push(['redirectTo', o.url]) },
    /** @param {any} o */
    switchTab(o) { calls.navigate.push(['switchTab', o.url]) },
    /** @param {any} o */
    reLaunch(o) { calls.navigate.push(['reLaunch', o.url]) },
  }

  return {
    wx,
    store,
    calls,
    state,
    faults,
    openid: opts.openid,
    /** 让 wx.chooseMedia 下次给出这些“照片” */
    /** @param {string[]} files */
    queueMedia(files) { state.media.push(...files) },
  }
}

module.exports = { createRealWx, httpCall, postJson }
