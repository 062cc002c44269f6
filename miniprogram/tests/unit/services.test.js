/** 服务模块：登录与 401 重新登录、错误说明、草稿、照片上传重试、定位与我也遇到、分页、坐标换算。 */
const auth = require('../../services/auth')
const api = require('../../services/api')
const drafts = require('../../services/draft')
const flow = require('../../services/report-flow')
const { uploadPhoto } = require('../../services/upload')
const { createPager } = require('../../services/pager')
const { explain, ApiError, stripFieldPrefix } = require('../../services/errors')
const { wgsToGcj, gcjToWgs, distanceM } = require('../../utils/coords')
const { routeText } = require('../../utils/format')
const { checkScanned, prepareNoticeHtml, signupText } = require('../../services/community')

const LOGIN = (token) => ({ data: { token, expires_at: '2099-01-01T00:00:00+08:00', resident: { id: 7 } } })

describe('auth', () => {
  test('logs in once for concurrent calls and keeps the token', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok-1'))
    const [a, b] = await Promise.all([auth.ensureToken(), auth.ensureToken()])
    expect(a).toBe('tok-1')
    expect(b).toBe('tok-1')
    expect(fakeWx.calls.login).toBe(1)
    expect(fakeWx.calls.request.filter((r) => r.path === '/auth/wechat-login')[0].data).toEqual({ code: 'code-1' })
    expect(auth.isLoggedIn()).toBe(true)
  })

  test('on a 401 it renews the token once and retries the request with the new token', async () => {
    let n = 0
    fakeWx.on('POST', '/auth/wechat-login', () => LOGIN('tok-' + ++n))
    fakeWx.on('GET', '/me', (req) => (req.header.Authorization === 'Bearer tok-2' ? { data: { id: 7 } } : { status: 401, data: { error: { code: 'unauthorized', message: '请先登录' } } }))
    await auth.ensureToken()
    await expect(api.me()).resolves.toEqual({ id: 7 })
    expect(fakeWx.calls.login).toBe(2)
    expect(fakeWx.calls.request.filter((r) => r.path === '/me')).toHaveLength(2)
  })

  test('a second 401 after renewing is not retried again', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok'))
    fakeWx.on('GET', '/me', { status: 401, data: { error: { code: 'unauthorized', message: '请先登录' } } })
    await expect(api.me()).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    expect(fakeWx.calls.request.filter((r) => r.path === '/me')).toHaveLength(2)
  })

  test('refusals are explained in plain words', async () => {
    fakeWx.on('POST', '/auth/wechat-login', { status: 403, data: { error: { code: 'wechat_risky_user', message: '该微信账号存在风险' } } })
    const err = await auth.login().catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(explain(err)).toContain('不是您做错了什么')
    expect(explain(new ApiError(429, 'daily_limit_exceeded', 'x'))).toContain('明天再报')
    expect(explain(new ApiError(429, 'wechat_rate_limited', 'x'))).toContain('一分钟')
    expect(explain(new ApiError(422, 'validation_failed', 'description：问题描述不能超过 1000 字'))).toBe('问题描述不能超过 1000 字')
    expect(explain(new ApiError(500, 'boom', ''))).toContain('服务器')
    expect(explain({ errMsg: 'request:fail' })).toContain('网络')
    expect(stripFieldPrefix('没有前缀')).toBe('没有前缀')
  })
})

describe('draft', () => {
  test('validates every field and counts characters like the server', () => {
    const d = drafts.newDraft()
    expect(Object.keys(drafts.validate(d)).sort()).toEqual(['category', 'description', 'location', 'township'])
    d.category = 'road'
    d.description = '😀'.repeat(5)
    d.location = { lat: 1, lng: 2, address: '', source: 'gps' }
    d.township = { code: 'yongsheng', name: '永盛街道', proposed: true, gridName: '' }
    expect(drafts.countChars(d.description)).toBe(5)
    expect(drafts.validate(d, { maxChars: 5 })).toEqual({})
    expect(drafts.validate(d, { maxChars: 4 }).description).toContain('多了 1 字')
  })

  test('each draft has its own idempotency key, kept across save and load', () => {
    const a = drafts.newDraft()
    const b = drafts.newDraft()
    expect(a.key).not.toBe(b.key)
    expect(a.key).toMatch(/^[\x21-\x7e]{1,128}$/)
    a.photos = [{ path: 'p', status: 'uploading', progress: 40, uploadId: '', url: '', error: '' }]
    drafts.save(a)
    const loaded = drafts.load()
    expect(loaded.key).toBe(a.key)
    expect(loaded.photos[0].status).toBe('pending') // 中断的上传要重新传
    expect(drafts.renewKey(a).key).not.toBe(a.key)
  })

  test('the draft survives a failed submission and is removed only after the server confirms', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok'))
    fakeWx.on('UPLOAD', '/uploads', { status: 201, data: { id: 'up-1', url: 'https://tx.test/media/1.jpg', thumbnail_url: 'https://tx.test/media/1t.jpg' } })
    let fail = true
    fakeWx.on('POST', '/reports', (req) => (fail ? { fail: 'request:fail timeout' } : { status: 201, data: { number: 'R-1', status: 'pending', township: { code: 'yongsheng', name: '永盛街道' }, category: { code: 'road', name: '道路破损' }, created_at: '2026-12-06T08:00:00+08:00', grid: null } }))
    const d = Object.assign(drafts.newDraft(), {
      category: 'road', description: '路面塌了', location: { lat: 1, lng: 2, address: 'A', source: 'gps' },
      township: { code: 'yongsheng', name: '永盛街道', proposed: false, gridName: '' },
      photos: [{ path: 'wxfile://a.jpg', status: 'pending', progress: 0, uploadId: '', url: '', error: '' }],
    })
    const err = await flow.submit(d).catch((e) => e)
    expect(err.code).toBe('network_error')
    const kept = drafts.load()
    expect(kept.key).toBe(d.key)
    expect(kept.photos[0]).toMatchObject({ status: 'done', uploadId: 'up-1' })
    expect(kept.lastError).toContain('网络')

    fail = false
    const report = await flow.submit(kept)
    expect(report.number).toBe('R-1')
    expect(drafts.load()).toBeNull()
    expect(fakeWx.calls.uploadFile).toHaveLength(1) // 照片没有重复上传
    const posts = fakeWx.calls.request.filter((r) => r.path === '/reports')
    expect(posts.map((p) => p.header['Idempotency-Key'])).toEqual([d.key, d.key])
    expect(posts[1].data).toEqual({ category: 'road', description: '路面塌了', township: 'yongsheng', location: { lat: 1, lng: 2, address: 'A' }, photos: ['up-1'], anonymous: false })
    expect(flow.lastReceipt()).toMatchObject({ number: 'R-1', township: '永盛街道' })
  })
})

describe('upload', () => {
  test('compresses, reports progress, retries network failures, stops on a refused image', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok'))
    let n = 0
    fakeWx.on('UPLOAD', '/uploads', () => (++n < 3 ? { fail: 'uploadFile:fail timeout' } : { status: 201, data: { id: 'u9', url: 'x' } }))
    const progress = []
    const out = await uploadPhoto('wxfile://b.jpg', { backoffMs: 1, onProgress: (p) => progress.push(p) })
    expect(out.id).toBe('u9')
    expect(progress).toEqual([30, 100])
    expect(fakeWx.calls.uploadFile.map((c) => c.filePath)).toEqual(['wxfile://b-small.jpg', 'wxfile://b-small.jpg', 'wxfile://b-small.jpg'])
    expect(fakeWx.calls.uploadFile[0].header.Authorization).toBe('Bearer tok')

    fakeWx.on('UPLOAD', '/uploads', { status: 415, data: { error: { code: 'unsupported_media_type', message: '不支持' } } })
    const before = fakeWx.calls.uploadFile.length
    await expect(uploadPhoto('wxfile://c.gif', { backoffMs: 1 })).rejects.toMatchObject({ code: 'unsupported_media_type' })
    expect(fakeWx.calls.uploadFile.length - before).toBe(1)
  })
})

describe('locate and 我也遇到', () => {
  test('GET /locate with the point and, when picked, the township; the rule in plain words', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok'))
    const answer = { township: { code: 'yitong', name: '伊通镇' }, grid: { name: '一组网格', community: '东尖山村' }, rule: 'boundary', distance_m: null, note: '' }
    fakeWx.on('GET', '/locate', { data: answer })
    expect(await api.locate(43.3, 125.3)).toEqual(answer)
    await api.locate(43.3, 125.3, 'yitong')
    expect(fakeWx.calls.request.filter((r) => r.path === '/locate').map((r) => r.query)).toEqual([
      { lat: '43.3', lng: '125.3' }, { lat: '43.3', lng: '125.3', township: 'yitong' },
    ])
    fakeWx.on('GET', '/locate', { status: 422, data: { error: { code: 'validation_failed', message: 'lat：超出范围', field: 'lat' } } })
    await expect(api.locate(91, 0)).rejects.toMatchObject({ status: 422, code: 'validation_failed' })

    const grid = { name: '一组网格', community: '东尖山村' }
    expect(routeText({ township: null, grid, rule: 'boundary' })).toBe('位置在东尖山村 一组网格的范围内，由这个网格的网格员办理。')
    expect(routeText({ township: null, grid, rule: 'nearest_centre', distance_m: 445.2 })).toContain('离得最近的东尖山村 一组网格（约 445 米）')
    expect(routeText({ township: null, grid, rule: 'home' })).toContain('您登记的居住网格东尖山村 一组网格')
    expect(routeText({ township: { name: '伊通镇' }, grid: null, rule: 'none' })).toBe('附近没有网格，由伊通镇安排网格员办理。')
  })

  test('nearby asks for one category at a point; support posts to the report', async () => {
    fakeWx.on('POST', '/auth/wechat-login', LOGIN('tok'))
    fakeWx.on('GET', '/reports/nearby', { data: { items: [] } })
    fakeWx.on('POST', '/reports/R-1/support', { data: { number: 'R-1', supporters: 1 } })
    await api.nearby(43.3, 125.3, 'road')
    expect(fakeWx.calls.request.find((r) => r.path === '/reports/nearby').query).toEqual({ lat: '43.3', lng: '125.3', category: 'road' })
    await expect(api.support('R-1')).resolves.toEqual({ number: 'R-1', supporters: 1 })
    expect(fakeWx.calls.request.find((r) => r.path === '/reports/R-1/support').header.Authorization).toBe('Bearer tok')
  })
})

test('pager: cursor paging, refresh from the top, no duplicates, stops at the end', async () => {
  const pages = { '': { items: [{ number: 'a' }, { number: 'b' }], next_cursor: 'c1' }, c1: { items: [{ number: 'b' }, { number: 'c' }], next_cursor: null } }
  const seen = []
  const p = createPager(async (cursor) => { seen.push(cursor); return pages[cursor || ''] })
  await p.refresh()
  await p.more()
  expect(p.state.items.map((x) => x.number)).toEqual(['a', 'b', 'c'])
  expect(p.state.done).toBe(true)
  await p.more()
  expect(seen).toEqual([null, 'c1'])
  await p.refresh()
  expect(p.state.items.map((x) => x.number)).toEqual(['a', 'b'])
})

test('coordinates: GCJ-02 round trip within a centimetre, offset of a few hundred metres in China', () => {
  const w = { lat: 43.345, lng: 125.305 }
  const g = wgsToGcj(w.lat, w.lng)
  const d = distanceM(w.lat, w.lng, g.lat, g.lng)
  expect(d).toBeGreaterThan(100)
  expect(d).toBeLessThan(1000)
  const back = gcjToWgs(g.lat, g.lng)
  expect(distanceM(w.lat, w.lng, back.lat, back.lng)).toBeLessThan(0.05)
  expect(wgsToGcj(48.85, 2.35)).toEqual({ lat: 48.85, lng: 2.35 }) // 国外不偏移
})

test('community helpers: QR check, notice HTML hardening, sign-up wording', () => {
  expect(checkScanned('TXC:V0001:123456', 'V0001').ok).toBe(true)
  expect(checkScanned('TXC:V0002:123456', 'V0001').message).toContain('另一个活动')
  expect(checkScanned('https://evil.example', 'V0001').ok).toBe(false)
  expect(checkScanned('654321', 'V0001').ok).toBe(true)
  const html = prepareNoticeHtml('<p onclick="x()">hi</p><script>alert(1)</script><img src="https://t/media/a.png">')
  expect(html).not.toMatch(/onclick|script/)
  expect(html).toContain('max-width:100%')
  expect(signupText({ status: 'waitlisted', position: 2, checked_in_at: null })).toContain('候补第 2 位')
  expect(signupText({ status: 'confirmed', position: null, checked_in_at: '2026-12-06T09:00:00+08:00' })).toBe('已签到')
  expect(signupText(null)).toBe('')
})
