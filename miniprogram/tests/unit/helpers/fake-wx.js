/**
 * 单元测试用的 wx 替身：本地存储在内存里；wx.request / wx.uploadFile 交给测试登记的路由回答；
 * 选照片、定位、订阅、跳转等记录调用并按测试的安排回答。真实服务器的测试在 tests/e2e。
 */

/** @param {any} v */
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)))

function createFakeWx() {
  const store = new Map()
  /** @type {Array<{ method: string, test: (url: string) => boolean, handler: Function }>} */
  const routes = []
  const calls = {
    request: [], uploadFile: [], login: 0, navigate: [], modal: [], toast: [], subscribe: [], preview: [], clipboard: [],
  }
  const plan = {
    /** wx.chooseMedia 给出的临时文件 */
    media: ['wxfile://tmp/a.jpg'],
    /** wx.getLocation 的结果；字符串表示失败的 errMsg */
    location: /** @type {any} */ ({ latitude: 43.345, longitude: 125.305 }),
    chosen: /** @type {any} */ ({ latitude: 43.346, longitude: 125.31, name: '人民大街', address: '伊通县人民大街18号' }),
    subscribe: 'accept',
    scan: 'TXC:V0001:123456',
    modalConfirm: true,
    uploadProgress: [30, 100],
  }
  let codeSeq = 0

  /** 找路由：method + 路径（不含 /api/v1 前缀和查询串）。 */
  function route(method, url) {
    const u = new URL(url)
    const path = u.pathname.replace(/^\/api\/v1/, '')
    const r = routes.find((x) => x.method === method && x.test(path))
    return { r, path, query: Object.fromEntries(u.searchParams.entries()) }
  }

  const later = (fn) => setTimeout(fn, 0)

  const wx = {
    getStorageSync: (k) => (store.has(k) ? clone(store.get(k)) : ''),
    setStorageSync: (k, v) => { store.set(k, clone(v)) },
    removeStorageSync: (k) => { store.delete(k) },
    request(opts) {
      const method = opts.method || 'GET'
      const { r, path, query } = route(method, opts.url)
      const req = { method, path, query, data: clone(opts.data), header: opts.header || {} }
      calls.request.push(req)
      later(() => {
        if (!r) {
          opts.success && opts.success({ statusCode: 404, data: { error: { code: 'not_found', message: '找不到该内容' } }, header: {} })
          return
        }
        let out
        try {
          out = r.handler(req)
        } catch (e) {
          out = { fail: 'request:fail ' + e.message }
        }
        if (out && out.fail) opts.fail && opts.fail({ errMsg: out.fail })
        else opts.success && opts.success({ statusCode: out.status || 200, data: clone(out.data), header: {} })
      })
      return { abort() {} }
    },
    uploadFile(opts) {
      const { r } = route('UPLOAD', opts.url)
      const req = { filePath: opts.filePath, name: opts.name, header: opts.header || {} }
      calls.uploadFile.push(req)
      const listeners = []
      later(() => {
        const out = r ? r.handler(req) : { status: 404, data: { error: { code: 'not_found', message: '' } } }
        if (out && out.fail) {
          opts.fail && opts.fail({ errMsg: out.fail })
          return
        }
        plan.uploadProgress.forEach((p) => listeners.forEach((l) => l({ progress: p, totalBytesSent: p, totalBytesExpectedToSend: 100 })))
        opts.success && opts.success({ statusCode: out.status || 201, data: JSON.stringify(out.data) })
      })
      return { onProgressUpdate: (fn) => listeners.push(fn), abort() {} }
    },
    login(opts) {
      calls.login++
      later(() => opts.success({ code: 'code-' + ++codeSeq, errMsg: 'login:ok' }))
    },
    chooseMedia(opts) {
      later(() => opts.success({ tempFiles: plan.media.slice(0, opts.count).map((p) => ({ tempFilePath: p, size: 1000, fileType: 'image' })) }))
    },
    compressImage(opts) {
      later(() => opts.success({ tempFilePath: opts.src.replace(/(\.\w+)$/, '-small$1') }))
    },
    getLocation(opts) {
      later(() => (typeof plan.location === 'string' ? opts.fail({ errMsg: plan.location }) : opts.success(clone(plan.location))))
    },
    chooseLocation(opts) {
      later(() => (typeof plan.chosen === 'string' ? opts.fail({ errMsg: plan.chosen }) : opts.success(clone(plan.chosen))))
    },
    requestSubscribeMessage(opts) {
      calls.subscribe.push(opts.tmplIds)
      const res = { errMsg: 'requestSubscribeMessage:ok' }
      opts.tmplIds.forEach((id) => { res[id] = plan.subscribe })
      later(() => opts.success(res))
    },
    scanCode(opts) {
      later(() => (plan.scan ? opts.success({ result: plan.scan, scanType: 'QR_CODE' }) : opts.fail({ errMsg: 'scanCode:fail cancel' })))
    },
    showModal(opts) {
      calls.modal.push(opts)
      later(() => opts.success && opts.success({ confirm: plan.modalConfirm, cancel: !plan.modalConfirm, content: plan.modalContent || '' }))
    },
    showToast(opts) { calls.toast.push(opts) },
    showLoading() {},
    hideLoading() {},
    previewImage(opts) { calls.preview.push(opts) },
    setClipboardData(opts) { calls.clipboard.push(opts.data); opts.success && opts.success({}) },
    navigateTo(opts) { calls.navigate.push(['navigateTo', opts.url]) },
    redirectTo(opts) { calls.navigate.push(['redirectTo', opts.url]) },
    switchTab(opts) { calls.navigate.push(['switchTab', opts.url]) },
    reLaunch(opts) { calls.navigate.push(['reLaunch', opts.url]) },
    navigateBack() { calls.navigate.push(['navigateBack', '']) },
    stopPullDownRefresh() { calls.navigate.push(['stopPullDownRefresh', '']) },
    openPrivacyContract(opts) { calls.navigate.push(['openPrivacyContract', '']); opts && opts.success && opts.success({}) },
    openSetting() {},
  }

  return {
    wx,
    store,
    calls,
    plan,
    /**
     * 登记一个接口的回答。path 可以是字符串（精确匹配）或正则。
     * handler(req) 返回 { status, data } 或 { fail: 'request:fail …' }。
     */
    on(method, path, handler) {
      const test = typeof path === 'string' ? (p) => p === path : (p) => path.test(p)
      routes.unshift({ method, test, handler: typeof handler === 'function' ? handler : () => handler })
    },
  }
}

module.exports = { createFakeWx }
