/**
 * 每个页面都能渲染；随手拍表单会校验、出错时显示原因、草稿在失败后还在；登录被拒时说人话。
 * 网络由 wx 替身按登记的路由回答（真实服务器的测试在 tests/e2e）。
 */
const fs = require('fs')
const path = require('path')
const { renderPage, settle, text, ROOT } = require('./helpers/render')
const drafts = require('../../services/draft')
const api = require('../../services/api')

const ERR = (status, code, message) => ({ status, data: { error: { code, message } } })
const REPORT = {
  supporters: 2, merged_into: null, relation: 'own',
  number: 'R20261206-0001', status: 'resolved', category: { code: 'sanitation', name: '环境卫生' }, description: '垃圾三天没人清理',
  township: { code: 'yongsheng', name: '永盛街道' }, location: { lat: 43.345, lng: 125.305, address: '人民大街18号' },
  photos: [{ url: 'https://tx.test/media/1.jpg', thumbnail_url: 'https://tx.test/media/1t.jpg' }],
  completion_photos: [{ url: 'https://tx.test/media/9.jpg' }],
  anonymous: true, created_at: '2026-12-06T08:00:00+08:00', updated_at: '2026-12-06T10:00:00+08:00', reply: '已清运', rating: null,
  grid: { name: '第一网格', community: '人民社区' },
  timeline: [{ at: '2026-12-06T10:00:00+08:00', status: 'resolved', action: 'resolve', channel: 'dingtalk', actor: { kind: 'official', name: '王网格' }, note: '已清运' }],
}
const CAMPAIGN = {
  number: 'V0001', title: '清理积雪', description: '带手套', status: 'published', place: { name: '社区广场', lat: 43.3, lng: 125.3, radius_m: 300 },
  starts_at: '2026-12-07T09:00:00+08:00', ends_at: '2026-12-07T12:00:00+08:00', capacity: 10, taken: 3, waitlisted: 0,
  scope: { level: 'township' }, skills: ['体力'], hours: 3, report: null, my_signup: null,
}
const NOTICE = {
  number: 'N0001', title: '停水通知', status: 'published', pinned: true, summary: '明早停水', target: { level: 'county', township: null, community: null, grid: null },
  publisher: '县应急局', published_at: '2026-12-06T08:00:00+08:00', expires_at: null, withdrawn_at: null, read: false,
  body_html: '<p>明早 8 点停水</p>', images: [], withdraw_reason: '',
}

function loggedIn() {
  fakeWx.on('POST', '/auth/wechat-login', { data: { token: 'tok', expires_at: '2099-01-01T00:00:00+08:00', resident: { id: 1 } } })
}

function lists() {
  fakeWx.on('GET', '/categories', { data: { items: [{ code: 'sanitation', name: '环境卫生', help: '垃圾没人清、污水横流' }, { code: 'road', name: '道路破损', help: '' }] } })
  fakeWx.on('GET', '/townships', { data: { items: [{ code: 'yongsheng', name: '永盛街道', kind: 'street' }, { code: 'yitong', name: '伊通镇', kind: 'town' }] } })
  fakeWx.on('GET', '/locate', (req) => (req.query.township === 'yitong'
    ? { data: { township: { code: 'yitong', name: '伊通镇' }, grid: { name: '一组网格', community: '东尖山村' }, rule: 'nearest_centre', distance_m: 312.4, note: '' } }
    : { data: { township: { code: 'yongsheng', name: '永盛街道' }, grid: { name: '第一网格', community: '人民社区' }, rule: 'boundary', distance_m: null, note: '' } }))
  fakeWx.on('GET', '/reports/nearby', { data: { items: [] } })
}

const NEARBY = {
  number: 'R20261205-0007', category: { code: 'sanitation', name: '环境卫生' }, status: 'accepted', distance_m: 36.6,
  created_at: '2026-12-05T08:00:00+08:00', summary: '垃圾桶满了没人清', thumbnail_url: 'https://tx.test/media/7t.jpg',
}

beforeEach(() => {
  loggedIn()
})

describe('随手拍', () => {
  test('renders, proposes township and grid from /locate with the rule in plain words, shows the server\'s help texts and the live count', async () => {
    lists()
    const page = renderPage('pages/report/new')
    await settle(20)
    const t = text(page)
    expect(page.data.draft.township).toMatchObject({ code: 'yongsheng', proposed: true, gridName: '第一网格' })
    expect(t).toContain('已按位置推荐：第一网格')
    expect(t).toContain('位置在人民社区 第一网格的范围内，由这个网格的网格员办理。')
    expect(fakeWx.calls.request.find((r) => r.path === '/locate').query).toEqual({ lat: '43.345', lng: '125.305' })
    expect(t).toContain('环境卫生：垃圾没人清、污水横流')
    expect(t).toContain('道路破损：')
    expect(t).toContain('匿名后，办理的工作人员看不到')
    expect(t).toContain('0/1000 字')
    page.instance.onDescriptionInput({ detail: { value: '井盖丢了🙁🙁' } }) // emoji 按一个字算
    await settle()
    expect(text(page)).toContain('6/1000 字')
    // 推荐可以改；改了以后按居民选的乡镇/街道再问一次网格，不再说“推荐”
    await page.instance.onTownshipChange({ detail: { value: 1 } })
    await settle()
    expect(page.data.draft.township).toMatchObject({ code: 'yitong', proposed: false, gridName: '一组网格' })
    expect(fakeWx.calls.request.filter((r) => r.path === '/locate').pop().query.township).toBe('yitong')
    const after = text(page)
    expect(after).not.toContain('已按位置推荐')
    expect(after).toContain('网格：一组网格')
    expect(after).toContain('交给离得最近的东尖山村 一组网格（约 312 米）')
    // 再换位置：居民选的乡镇/街道不被推荐覆盖
    await page.instance.onPickOnMap()
    await settle()
    expect(page.data.draft.township.code).toBe('yitong')
    expect(page.data.draft.location.source).toBe('map')
  })

  test('a location in another township\'s grid says the report will go there; a failed locate lets the resident choose', async () => {
    lists()
    fakeWx.on('GET', '/locate', (req) => (req.query.township
      ? { data: { township: { code: 'yongsheng', name: '永盛街道' }, grid: { name: '第一网格', community: '人民社区' }, rule: 'boundary' } }
      : { fail: 'request:fail timeout' }))
    const page = renderPage('pages/report/new')
    await settle(20)
    expect(page.data.draft.township).toBeNull()
    expect(text(page)).toContain('暂时没能按位置推荐（网络不太好')
    await page.instance.onTownshipChange({ detail: { value: 1 } })
    await settle()
    expect(page.data.draft.township).toMatchObject({ code: 'yitong', proposed: false })
    expect(text(page)).toContain('这个位置在永盛街道的网格范围内，提交后会按位置改由永盛街道办理。')
  })

  test('nearby open reports of the chosen category are shown, and 我也遇到 follows one instead of filing a new report', async () => {
    lists()
    fakeWx.on('GET', '/reports/nearby', (req) => ({ data: { items: req.query.category === 'sanitation' ? [NEARBY] : [] } }))
    fakeWx.on('POST', '/me/subscriptions', { data: { items: [] } })
    let supported = 0
    fakeWx.on('POST', '/reports/R20261205-0007/support', () => { supported++; return { data: { number: 'R20261205-0007', supporters: 3 } } })
    const page = renderPage('pages/report/new')
    await settle(20)
    expect(page.querySelector('.nearby')).toBeFalsy() // 还没选类别
    await page.instance.onCategoryChange({ detail: { value: 0 } })
    await settle()
    const nearbyCall = fakeWx.calls.request.filter((r) => r.path === '/reports/nearby').pop()
    expect(nearbyCall.query).toEqual({ lat: '43.345', lng: '125.305', category: 'sanitation' })
    const t = text(page)
    expect(t).toContain('附近已有人报过同类问题')
    expect(t).toContain('垃圾桶满了没人清')
    expect(t).toContain('约 37 米 · 办理中')
    await page.instance.onCategoryChange({ detail: { value: 1 } }) // 别的类别附近没有
    await settle()
    expect(page.querySelector('.nearby')).toBeFalsy()
    await page.instance.onCategoryChange({ detail: { value: 0 } })
    page.instance.onDescriptionInput({ detail: { value: '门口垃圾' } })
    await settle()

    fakeWx.plan.modalConfirm = false // 居民说“不是同一件事”
    await page.instance.onSupport({ currentTarget: { dataset: { number: 'R20261205-0007' } } })
    expect(supported).toBe(0)
    expect(drafts.load().description).toBe('门口垃圾')

    fakeWx.plan.modalConfirm = true
    page.querySelector('.me-too').dispatchEvent('tap')
    await settle(20)
    expect(fakeWx.calls.modal.pop().content).toContain('不再提交这份草稿')
    expect(supported).toBe(1)
    expect(fakeWx.calls.subscribe).toEqual([['tmpl-status']])
    expect(fakeWx.calls.request.some((r) => r.path === '/reports' && r.method === 'POST')).toBe(false)
    expect(drafts.load()).toBeNull()
    expect(fakeWx.calls.navigate).toContainEqual(['redirectTo', '/pages/report/detail?number=R20261205-0007&relation=following&supported=1'])
  })

  test('a refused 我也遇到 is explained and the draft is kept', async () => {
    lists()
    fakeWx.on('GET', '/reports/nearby', { data: { items: [NEARBY] } })
    fakeWx.on('POST', /\/support$/, ERR(409, 'invalid_transition', '该问题已办结'))
    fakeWx.plan.subscribe = 'reject'
    const page = renderPage('pages/report/new')
    await settle(20)
    await page.instance.onCategoryChange({ detail: { value: 0 } })
    page.instance.onDescriptionInput({ detail: { value: '门口垃圾' } })
    await page.instance.onSupport({ currentTarget: { dataset: { number: 'R20261205-0007' } } })
    await settle()
    expect(text(page)).toContain('状态刚刚变了')
    expect(drafts.load().description).toBe('门口垃圾')
    expect(fakeWx.calls.navigate.some((n) => n[0] === 'redirectTo')).toBe(false)
  })

  test('validates the form and shows what is missing, without calling the server', async () => {
    lists()
    fakeWx.plan.location = 'getLocation:fail auth deny'
    const page = renderPage('pages/report/new')
    await settle(20)
    expect(text(page)).toContain('没有位置权限')
    page.querySelector('.bottom-bar .primary-btn').dispatchEvent('tap')
    await settle()
    const t = text(page)
    expect(t).toContain('还有 4 项需要补充')
    expect(t).toContain('请选择问题类别')
    expect(t).toContain('请简单描述一下问题')
    expect(t).toContain('请选择问题所在的乡镇/街道')
    expect(fakeWx.calls.request.some((r) => r.path === '/reports')).toBe(false)
    expect(fakeWx.calls.subscribe).toHaveLength(0)
  })

  test('a description over the server limit is refused before submitting', async () => {
    lists()
    const page = renderPage('pages/report/new')
    await settle(20)
    page.instance.onCategoryChange({ detail: { value: 0 } })
    page.instance.onDescriptionInput({ detail: { value: '字'.repeat(1001) } })
    page.instance.onSubmit()
    await settle()
    expect(page.data.overLimit).toBe(true)
    expect(text(page)).toContain('描述最多 1000 字，现在多了 1 字')
  })

  test('photos: chosen with chooseMedia, at most 9, removable', async () => {
    lists()
    fakeWx.plan.media = Array.from({ length: 12 }, (_, i) => 'wxfile://p' + i + '.jpg')
    const page = renderPage('pages/report/new')
    await settle(20)
    page.instance.onAddPhotos()
    await settle()
    expect(page.data.draft.photos).toHaveLength(9)
    expect(text(page)).toContain('9/9 张')
    page.instance.onRemovePhoto({ detail: { index: 0 } })
    expect(page.data.draft.photos[0].path).toBe('wxfile://p1.jpg')
    expect(drafts.load().photos).toHaveLength(8)
  })

  test('asks for subscribe consent, submits, and on a server refusal keeps the draft and explains', async () => {
    lists()
    fakeWx.on('POST', '/me/subscriptions', { data: { items: [{ template_id: 'tmpl-status', remaining: 1 }] } })
    fakeWx.on('POST', '/reports', ERR(429, 'daily_limit_exceeded', '今天已上报 20 条'))
    const page = renderPage('pages/report/new')
    await settle(20)
    page.instance.onCategoryChange({ detail: { value: 0 } })
    page.instance.onDescriptionInput({ detail: { value: '垃圾堆' } })
    await page.instance.onSubmit()
    await settle()
    expect(fakeWx.calls.subscribe).toEqual([['tmpl-status']])
    expect(fakeWx.calls.request.find((r) => r.path === '/me/subscriptions').data).toEqual({ template_ids: ['tmpl-status'] })
    expect(text(page)).toContain('明天再报')
    const kept = drafts.load()
    expect(kept.description).toBe('垃圾堆')
    expect(kept.lastError).toContain('明天再报')

    // 再打开页面，草稿和失败原因都在
    const again = renderPage('pages/report/new')
    await settle(20)
    expect(again.data.draft.key).toBe(kept.key)
    expect(text(again)).toContain('上次没有提交成功')
  })

  test('a reused idempotency key offers to submit as a new report with a new key', async () => {
    lists()
    fakeWx.plan.subscribe = 'reject'
    let calls = 0
    fakeWx.on('POST', '/reports', () => (++calls === 1 ? ERR(409, 'idempotency_key_reused', 'x') : { status: 201, data: REPORT }))
    const page = renderPage('pages/report/new')
    await settle(20)
    page.instance.onCategoryChange({ detail: { value: 0 } })
    page.instance.onDescriptionInput({ detail: { value: '改过的描述' } })
    await page.instance.onSubmit()
    await settle()
    expect(text(page)).toContain('作为新的一条提交')
    const oldKey = page.data.draft.key
    await page.instance.onSubmitAsNew()
    await settle()
    const keys = fakeWx.calls.request.filter((r) => r.path === '/reports').map((r) => r.header['Idempotency-Key'])
    expect(keys[0]).toBe(oldKey)
    expect(keys[1]).not.toBe(oldKey)
    expect(fakeWx.calls.request.some((r) => r.path === '/me/subscriptions')).toBe(false) // 拒绝了订阅就不登记
    expect(fakeWx.calls.navigate).toContainEqual(['redirectTo', '/pages/report/done?number=R20261206-0001'])
  })
})

test('登录 explains a risky account in plain words', async () => {
  fakeWx.on('POST', '/auth/wechat-login', ERR(403, 'wechat_risky_user', '该微信账号存在风险'))
  const page = renderPage('pages/login/login')
  page.querySelector('.primary-btn').dispatchEvent('tap')
  await settle()
  expect(text(page)).toContain('不是您做错了什么')
  expect(fakeWx.calls.navigate).toEqual([])
})

test('首页 shows notices, campaigns and reports waiting for a rating', async () => {
  wx.setStorageSync('tx:session', { token: 'tok', expiresAt: '2099-01-01T00:00:00+08:00', resident: { id: 1 } })
  fakeWx.on('GET', '/notices', { data: { items: [NOTICE], next_cursor: null } })
  fakeWx.on('GET', '/campaigns', { data: { items: [CAMPAIGN], next_cursor: null } })
  fakeWx.on('GET', '/reports', { data: { items: [REPORT, Object.assign({}, REPORT, { number: 'R2', status: 'pending' })], next_cursor: null } })
  const page = renderPage('pages/index/index')
  await page.instance.onShow()
  const t = text(page)
  expect(t).toContain('随手拍')
  expect(t).toContain('【置顶】停水通知')
  expect(t).toContain('清理积雪')
  expect(t).toContain('等您评价（1）')
})

test('首页 sends a resident who is not logged in to 登录', async () => {
  const page = renderPage('pages/index/index')
  await page.instance.onShow()
  expect(fakeWx.calls.navigate).toEqual([['navigateTo', '/pages/login/login']])
})

test('提交成功 shows the tracking number and what happens next', async () => {
  wx.setStorageSync('tx:last-receipt', { number: 'R-9', status: 'pending', township: '永盛街道', grid: '第一网格', category: '环境卫生', createdAt: '', nearby: [NEARBY] })
  const page = renderPage('pages/report/done', { number: 'R-9' })
  await settle()
  const t = text(page)
  expect(t).toContain('R-9')
  expect(t).toContain('送到永盛街道的工作群')
  expect(t).toContain('附近还有同类的问题在办理')
  expect(t).toContain('垃圾桶满了没人清')
  expect(t).toContain('约 37 米 · 办理中')
  page.querySelector('.primary-btn').dispatchEvent('tap')
  await settle()
  expect(fakeWx.calls.navigate).toEqual([['redirectTo', '/pages/report/detail?number=R-9']])
})

test('我的上报 pages with the cursor and shows status badges; errors are shown', async () => {
  fakeWx.on('GET', '/reports', (req) => (req.query.cursor === 'c2'
    ? { data: { items: [Object.assign({}, REPORT, { number: 'R-old', status: 'closed' })], next_cursor: null } }
    : { data: { items: [REPORT], next_cursor: 'c2' } }))
  const page = renderPage('pages/report/list')
  await page.instance.onShow()
  expect(text(page)).toContain('待评价')
  await page.instance.onReachBottom()
  expect(page.data.items.map((r) => r.number)).toEqual(['R20261206-0001', 'R-old'])
  expect(text(page)).toContain('已完结')
  expect(text(page)).toContain('没有更多了')
  await page.instance.onPullDownRefresh()
  expect(page.data.items).toHaveLength(1)
  expect(fakeWx.calls.navigate).toContainEqual(['stopPullDownRefresh', ''])
  fakeWx.on('GET', '/reports', { fail: 'request:fail timeout' })
  await page.instance.onPullDownRefresh()
  expect(text(page)).toContain('网络不太好')
})

test('详情 shows before/after photos, grid, reply, timeline; rating needs a score', async () => {
  fakeWx.on('GET', /^\/reports\/R20261206-0001$/, { data: REPORT })
  fakeWx.on('POST', /\/rating$/, (req) => ({ data: Object.assign({}, REPORT, { status: 'closed', rating: { score: req.data.score, comment: req.data.comment } }) }))
  const page = renderPage('pages/report/detail', { number: 'R20261206-0001' })
  await settle()
  const t = text(page)
  expect(t).toContain('处理前（您拍的）（1 张）')
  expect(t).toContain('处理后（办结时拍的）（1 张）')
  expect(t).toContain('2 位居民也遇到了这个问题')
  expect(t).toContain('问题解决了吗')
  expect(t).toContain('所在网格：人民社区 · 第一网格')
  expect(t).toContain('办理单位：永盛街道')
  expect(t).toContain('工作人员答复')
  expect(t).toContain('工作人员：王网格')
  await page.instance.onRate()
  expect(text(page)).toContain('请先点星星打分')
  page.instance.onScore({ detail: { value: 4 } })
  await page.instance.onRate()
  expect(page.data.report.status).toBe('closed')
  expect(text(page)).toContain('您的评价')
})

test('我的上报 shows followed reports with a 我也遇到 badge, and merged ones as 已合并 with a link to the main report', async () => {
  fakeWx.on('GET', '/reports', { data: { items: [
    Object.assign({}, REPORT, { number: 'R-f', status: 'accepted', relation: 'following' }),
    Object.assign({}, REPORT, { number: 'R-m', status: 'merged', merged_into: 'R-main' }),
    REPORT,
  ], next_cursor: null } })
  const page = renderPage('pages/report/list')
  await page.instance.onShow()
  const rows = page.querySelectorAll('.list-item')
  expect(rows).toHaveLength(3)
  expect(rows[0].dom.textContent).toContain('我也遇到')
  expect(rows[2].dom.textContent).not.toContain('我也遇到')
  expect(rows[1].dom.textContent).toContain('已合并')
  expect(rows[1].dom.textContent).toContain('已合并到 R-main，一起办理')
  page.querySelector('.merged').dispatchEvent('tap')
  rows[0].dispatchEvent('tap')
  await settle()
  expect(fakeWx.calls.navigate).toEqual([
    ['navigateTo', '/pages/report/detail?number=R-main&relation=following'],
    ['navigateTo', '/pages/report/detail?number=R-f&relation=following'],
  ])
})

test('详情 of a followed report: supporters, before/after photos, no rating form; the 我也遇到 confirmation', async () => {
  fakeWx.on('GET', /^\/reports\/R20261206-0001$/, { data: Object.assign({}, REPORT, { supporters: 3 }) })
  const page = renderPage('pages/report/detail', { number: 'R20261206-0001', relation: 'following', supported: '1' })
  await settle()
  const t = text(page)
  const shown = ['3 位居民也遇到了这个问题（包括您）', '已记下您也遇到了这个问题', '处理前（居民拍的）（1 张）', '处理后（办结时拍的）（1 张）']
  expect(shown.filter((x) => !t.includes(x))).toEqual([])
  expect(t).not.toContain('问题解决了吗')
  expect(page.data.report.before.map((p) => p.url)).toEqual(['https://tx.test/media/1.jpg'])
  expect(page.data.report.after.map((p) => p.url)).toEqual(['https://tx.test/media/9.jpg'])
})

test('详情 shows a refused reopen in plain words', async () => {
  fakeWx.on('GET', /^\/reports\/R20261206-0001$/, { data: REPORT })
  fakeWx.on('POST', /\/reopen$/, ERR(409, 'invalid_transition', '该问题已关闭，不能重新办理'))
  const page = renderPage('pages/report/detail', { number: 'R20261206-0001' })
  await settle()
  page.instance.onToggleReopen()
  page.instance.onReason({ detail: { value: '没修好' } })
  await page.instance.onReopen()
  expect(text(page)).toContain('状态刚刚变了')
})

test('通知公告 list and detail (rich-text, read receipt)', async () => {
  fakeWx.on('GET', '/notices', { data: { items: [NOTICE], next_cursor: null } })
  fakeWx.on('GET', '/notices/N0001', { data: NOTICE })
  fakeWx.on('POST', '/notices/N0001/read', { data: { number: 'N0001', read_at: '2026-12-06T09:00:00+08:00' } })
  const list = renderPage('pages/notice/list')
  await list.instance.onShow()
  expect(text(list)).toContain('停水通知')
  expect(list.querySelector('.unread')).toBeTruthy()
  const page = renderPage('pages/notice/detail', { number: 'N0001' })
  await settle()
  expect(page.data.notice.html).toContain('明早 8 点停水')
  expect(text(page)).toContain('已阅读（2026-12-06 09:00）')
  expect(page.querySelector('.body')).toBeTruthy()
})

test('通知 detail of a missing notice says so', async () => {
  fakeWx.on('GET', '/notices/N0404', ERR(404, 'notice_not_found', ''))
  const page = renderPage('pages/notice/detail', { number: 'N0404' })
  await settle()
  expect(text(page)).toContain('这条通知已经不在了')
  expect(fakeWx.calls.request.some((r) => r.path.endsWith('/read'))).toBe(false)
})

test('志愿活动 list, detail with sign-up to the waitlist, check-in errors and hours', async () => {
  fakeWx.on('GET', '/campaigns', { data: { items: [CAMPAIGN], next_cursor: null } })
  fakeWx.on('GET', '/me/home', { data: { township: null, community: null, grid: null } })
  const list = renderPage('pages/campaign/list')
  await list.instance.onShow()
  expect(text(list)).toContain('清理积雪')
  expect(text(list)).toContain('请先设置您住在哪个乡镇/街道')

  let signed = null
  fakeWx.on('GET', '/campaigns/V0001', () => ({ data: Object.assign({}, CAMPAIGN, { my_signup: signed }) }))
  fakeWx.on('POST', '/campaigns/V0001/signup', () => {
    signed = { status: 'waitlisted', position: 2, signed_up_at: '', checked_in_at: null }
    return { status: 201, data: signed }
  })
  const page = renderPage('pages/campaign/detail', { number: 'V0001' })
  await settle()
  expect(text(page)).toContain('签到须在 300 米内')
  page.instance.onPhone({ detail: { value: 'abc' } })
  await page.instance.onSignup()
  expect(text(page)).toContain('电话号码只能是数字')
  page.instance.onPhone({ detail: { value: '' } })
  await page.instance.onSignup()
  await settle()
  expect(text(page)).toContain('候补第 2 位')

  signed = { status: 'confirmed', position: null, signed_up_at: '', checked_in_at: null }
  await page.instance.load()
  fakeWx.on('POST', '/campaigns/V0001/checkin', ERR(422, 'checkin_too_far', '您距离活动地点约 1200 米，超出 300 米范围'))
  fakeWx.plan.scan = 'TXC:V0001:123456'
  await page.instance.onScan()
  expect(text(page)).toContain('约 1200 米')
  page.instance.onCode({ detail: { value: '12' } })
  await page.instance.onManualCheckin()
  expect(text(page)).toContain('6 位数字')

  fakeWx.on('GET', '/me/volunteer-hours', { data: { total_hours: 5.5, items: [{ campaign: 'V0001', title: '清理积雪', township: { code: 'y', name: 'y' }, hours: 5.5, credited_at: '2026-12-07T12:00:00+08:00' }] } })
  const hours = renderPage('pages/campaign/hours')
  await hours.instance.onShow()
  expect(text(hours)).toContain('5.5 小时')
})

test('我的 shows the home place and remaining subscriptions; 居住地 and 关于 render', async () => {
  fakeWx.on('GET', '/me/home', { data: { township: { code: 'yongsheng', name: '永盛街道' }, community: { id: 1, name: '人民社区' }, grid: { id: 2, name: '第一网格' } } })
  fakeWx.on('GET', '/me/subscriptions', { data: { items: [{ template_id: 'tmpl-status', remaining: 2 }] } })
  const me = renderPage('pages/me/index')
  await me.instance.onShow()
  const t = text(me)
  expect(t).toContain('网格：第一网格')
  expect(t).toContain('上报办理进度：剩 2 次')
  expect(t).toContain('新通知：剩 0 次')

  lists()
  fakeWx.on('PUT', '/me/home', ERR(404, 'no_grid_here', '附近没有网格'))
  const home = renderPage('pages/me/home')
  await settle()
  expect(text(home)).toContain('现在：永盛街道 · 人民社区 · 第一网格')
  await home.instance.onLocate()
  expect(text(home)).toContain('附近没有找到网格')

  const about = renderPage('pages/me/about')
  expect(text(about)).toContain('隐私说明')
  about.querySelector('.secondary-btn').dispatchEvent('tap')
  await settle()
  expect(fakeWx.calls.navigate).toContainEqual(['openPrivacyContract', ''])
})

test('every page in app.json exists and renders; every control in every WXML has an aria-label', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  for (const p of app.pages) {
    for (const ext of ['.js', '.json', '.wxml', '.wxss']) expect(fs.existsSync(path.join(ROOT, p + ext))).toBe(true)
    expect(renderPage(p).dom).toBeTruthy()
  }
  const wxmls = []
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
    const f = path.join(dir, e.name)
    if (e.isDirectory()) walk(f)
    else if (f.endsWith('.wxml')) wxmls.push(f)
  })
  walk(path.join(ROOT, 'pages'))
  walk(path.join(ROOT, 'components'))
  const missing = []
  for (const f of wxmls) {
    const tags = fs.readFileSync(f, 'utf8').match(/<(button|input|textarea|picker|switch|view|image|text)\b[^>]*>/g) || []
    for (const tag of tags) {
      const control = /^<(button|input|textarea|picker|switch)\b/.test(tag) || /\b(bind|catch)tap=/.test(tag)
      if (control && !/\baria-label=/.test(tag)) missing.push(path.relative(ROOT, f) + ': ' + tag)
    }
  }
  expect(missing).toEqual([])
})
