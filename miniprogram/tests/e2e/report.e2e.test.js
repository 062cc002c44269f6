/**
 * 随手拍全流程，对着真实的同心（tongxin serve + 假微信 + 假钉钉），只通过小程序自己的页面和服务：
 * 登录 → 三张照片 + 当前位置 + 按位置推荐的街道和网格 → 提交 → 我的上报 → 另一位居民在随手拍里
 * 看到附近这条，点「我也遇到」，在他的「我的上报」里看到它 → 工作人员在钉钉群受理、带照片办结 →
 * 详情里处理前/处理后的照片 → 居民收到微信提醒 → 评价；另一条要求重办；提交中途断网再重试，只有一条上报。
 */
const { renderPage, text } = require('../unit/helpers/render')
const { newResident, use, photos, until } = require('./helpers')
const { sayInGroup, sayInGroupWithPictures, drainWorker, wechatMessages } = require('./official')
const { httpCall } = require('./wx-shim')
const { makePng } = require('./png')
const api = require('../../services/api')

const phone = newResident('reporter')

beforeEach(() => {
  use(phone)
})

/**
 * 在随手拍页面填好并提交一条上报，返回 { page, number }（提交失败时 number 为 ''）。
 * @param {string} description @param {number} nPhotos
 */
async function fileReport(description, nPhotos) {
  const page = renderPage('pages/report/new')
  await until(() => page.data.categories.length && page.data.draft.location && page.data.draft.township && page.data.draft.township.route,
    'location, township and grid proposal and lists')
  phone.queueMedia(photos(nPhotos))
  page.instance.onAddPhotos()
  await until(() => page.data.draft.photos.length === nPhotos, 'photos chosen')
  const proposal = { township: page.data.draft.township, shown: text(page) }
  const idx = page.data.categories.findIndex((c) => c.code === 'sanitation')
  page.instance.onCategoryChange({ detail: { value: idx } })
  page.instance.onDescriptionInput({ detail: { value: description } })
  const before = phone.calls.navigate.length
  page.querySelector('.bottom-bar .primary-btn').dispatchEvent('tap')
  await until(() => !page.data.submitting && (phone.calls.navigate.length > before || page.data.errorMessage), 'submission to finish')
  const nav = phone.calls.navigate.slice(before).find((n) => n[0] === 'redirectTo')
  return { page, proposal, number: nav ? decodeURIComponent(nav[1].split('number=')[1]) : '' }
}

let first = ''
let second = ''

test('登录：wx.login 的 code 换到同心的令牌', async () => {
  const page = renderPage('pages/login/login')
  page.querySelector('.primary-btn').dispatchEvent('tap')
  await until(() => phone.calls.navigate.some((n) => n[0] === "switchTab") || page.data.errorMessage, "login to finish")
  expect(page.data.errorMessage).toBe('')
  expect(phone.store.get('tx:session').token).toEqual(expect.any(String))
  const me = await api.me()
  expect(me.id).toEqual(expect.any(Number))
})

test('随手拍：三张照片压缩上传（有进度）、位置推荐街道、订阅授权登记、提交后看到查询编号', async () => {
  const uploadsBefore = phone.calls.upload.length
  const { page, proposal, number } = await fileReport('小区门口垃圾堆了三天没人清理', 3)
  expect(proposal.township).toMatchObject({ code: 'yongsheng', proposed: true, gridName: '第一网格' })
  expect(proposal.shown).toContain('已按位置推荐：第一网格')
  expect(proposal.shown).toContain('位置在人民社区 第一网格的范围内，由这个网格的网格员办理。')
  // 类别说明来自服务器（GET /categories 的 help）
  expect(proposal.shown).toContain('环境卫生：垃圾没人清、污水横流、卫生死角等')
  expect(page.data.errorMessage).toBe('')
  expect(number).toMatch(/^[0-9A-Za-z-]{1,32}$/)
  first = number

  // 三张照片各上传一次，且都有进度回报到 100%
  const uploads = phone.calls.upload.slice(uploadsBefore)
  expect(uploads).toHaveLength(3)
  uploads.forEach((u) => {
    expect(u.status).toBe(201)
    expect(u.progress[u.progress.length - 1]).toBe(100)
  })
  // 街道和网格由位置推荐（GET /locate：位置在永盛街道人民社区第一网格的边界内），并用大白话说明
  expect(page.data.errorMessage).toBe('')
  const report = await api.report(number)
  expect(report.township.code).toBe('yongsheng')
  expect(report.grid).toEqual({ name: '第一网格', community: '人民社区' })
  expect(report.supporters).toBe(0)
  expect(report.photos).toHaveLength(3)
  expect(report.status).toBe('pending')
  // 服务器确认后草稿才删除
  expect(phone.store.has('tx:report-draft')).toBe(false)
  // 订阅授权登记到了服务器
  const subs = await api.subscriptions()
  expect(subs.items).toEqual(expect.arrayContaining([{ template_id: global.stack.templates.reportStatus, remaining: 1 }]))

  const done = renderPage('pages/report/done', { number })
  expect(text(done)).toContain(number)
  expect(text(done)).toContain('永盛街道')
})

test('我的上报：列表里有这条，状态徽章为待受理', async () => {
  const list = renderPage('pages/report/list')
  await list.instance.onShow()
  const row = list.data.items.find((r) => r.number === first)
  expect(row).toBeTruthy()
  expect(text(list)).toContain('待受理')
  expect(text(list)).toContain(first)
})

test('另一位居民在随手拍里看到附近这条，点「我也遇到」而不再报一条，在他的「我的上报」里看到它', async () => {
  const neighbour = use(newResident('neighbour'))
  try {
    const page = renderPage('pages/report/new')
    await until(() => page.data.categories.length && page.data.draft.location && page.data.draft.township, 'location and lists')
    page.instance.onDescriptionInput({ detail: { value: '门口垃圾好几天了' } })
    await page.instance.onCategoryChange({ detail: { value: page.data.categories.findIndex((c) => c.code === 'sanitation') } })
    await until(() => page.data.nearby.some((n) => n.number === first), 'the nearby list to show the first report')
    expect(text(page)).toContain('附近已有人报过同类问题')
    expect(text(page)).toContain('小区门口垃圾堆了三天没人清理')
    const reportsBefore = neighbour.calls.request.filter((r) => r.method === 'POST' && /\/api\/v1\/reports$/.test(r.url.split('?')[0])).length

    const ok = await page.instance.onSupport({ currentTarget: { dataset: { number: first } } })
    expect(ok).toBe(true)
    expect(neighbour.calls.modal.pop().content).toContain('不再提交这份草稿')
    expect(neighbour.calls.navigate).toContainEqual(['redirectTo', '/pages/report/detail?number=' + encodeURIComponent(first) + '&relation=following&supported=1'])
    expect(neighbour.store.has('tx:report-draft')).toBe(false)
    expect(neighbour.calls.request.filter((r) => r.method === 'POST' && /\/api\/v1\/reports$/.test(r.url.split('?')[0])).length).toBe(reportsBefore)

    // 他能看这条的详情（关注的），看到几位居民也遇到，但不能评价
    const detail = renderPage('pages/report/detail', { number: first, relation: 'following', supported: '1' })
    await until(() => detail.data.report, 'detail to load')
    expect(detail.data.report.supporters).toBe(1)
    expect(text(detail)).toContain('1 位居民也遇到了这个问题（包括您）')

    // 他的「我的上报」里有这条，带「我也遇到」徽章
    const list = renderPage('pages/report/list')
    await list.instance.onShow()
    const row = list.data.items.find((r) => r.number === first)
    expect(row).toMatchObject({ following: true })
    expect(text(list)).toContain('我也遇到')
    // 再点一次也只算一次
    await expect(api.support(first)).resolves.toEqual({ number: first, supporters: 1 })
  } finally {
    use(phone)
  }
  // 上报人那边，人数也对
  expect((await api.report(first)).supporters).toBe(1)
})

test('工作人员在钉钉群受理、带照片办结（签名回调），居民看到处理前/处理后的照片、答复并收到微信提醒，然后评价', async () => {
  await sayInGroup(global.stack, '受理 ' + first)
  // 办结时附一张现场照片（钉钉 richText：办结命令 + 图片），同心从钉钉取回图片作为办结照片
  await sayInGroupWithPictures(global.stack, '办结 ' + first + ' 垃圾已清运，门口已冲洗', [makePng(64, 48, 77)])

  const detail = renderPage('pages/report/detail', { number: first })
  await until(() => detail.data.report, 'detail to load')
  const shown = text(detail)
  expect(detail.data.report.status).toBe('resolved')
  expect(shown).toContain('垃圾已清运，门口已冲洗')
  expect(shown).toContain('王网格')
  expect(shown).toContain('处理前（您拍的）（3 张）')
  expect(shown).toContain('处理后（办结时拍的）（1 张）')
  expect(shown).toContain('1 位居民也遇到了这个问题')
  expect(detail.data.report.before).toHaveLength(3)
  expect(detail.data.report.after).toHaveLength(1)
  // 办结照片是同心自己存的图片，能打开
  const after = await httpCall(detail.data.report.after[0].url, {})
  expect(after.status).toBe(200)
  expect(String(after.headers['content-type'])).toMatch(/^image\//)
  expect(detail.data.report.before.map((p) => p.url)).not.toContain(detail.data.report.after[0].url)

  // 投递进程把“已办结”的订阅消息发给居民（用掉居民同意的那一次）
  await drainWorker(global.stack)
  const messages = await wechatMessages(global.stack)
  expect(messages.some((m) => JSON.stringify(m).includes(phone.openid) && JSON.stringify(m).includes(first))).toBe(true)

  detail.instance.onScore({ detail: { value: 5 } })
  detail.instance.onComment({ detail: { value: '很快，谢谢' } })
  await detail.instance.onRate()
  expect(detail.data.formError).toBe('')
  expect(detail.data.report.status).toBe('closed')
  expect(detail.data.report.rating).toEqual({ score: 5, comment: '很快，谢谢' })
  expect(text(detail)).toContain('谢谢您的评价')
})

test('另一条办结后没解决：说明原因要求重办，回到办理中', async () => {
  const { number } = await fileReport('路灯坏了一个星期，晚上很黑', 1)
  expect(number).not.toBe('')
  second = number
  await sayInGroup(global.stack, '受理 ' + number)
  await sayInGroup(global.stack, '办结 ' + number + ' 已更换灯泡')

  const detail = renderPage('pages/report/detail', { number })
  await until(() => detail.data.report, 'detail to load')
  expect(detail.data.canRate).toBe(true)
  detail.instance.onToggleReopen()
  await detail.instance.onReopen()
  expect(detail.data.formError).toContain('哪里还没解决') // 没写原因不能提交
  detail.instance.onReason({ detail: { value: '换了还是不亮' } })
  await detail.instance.onReopen()
  expect(detail.data.formError).toBe('')
  expect(detail.data.report.status).toBe('accepted')
  const r = await api.report(number)
  expect(r.timeline.some((t) => t.action === 'reopen' && t.note.includes('换了还是不亮'))).toBe(true)
})

test('提交时网络断了（请求到了服务器、回答丢了）：草稿留着，再点提交只产生一条上报', async () => {
  const description = '井盖丢了一个，很危险 ' + Date.now()
  phone.faults.push({ method: 'POST', pathPart: '/api/v1/reports', mode: 'drop-response' })
  const { page, number } = await fileReport(description, 2)
  expect(number).toBe('')
  expect(page.data.errorMessage).toContain('网络不太好')
  // 草稿还在，照片已上传、同一个 Idempotency-Key
  const saved = phone.store.get('tx:report-draft')
  expect(saved.description).toBe(description)
  expect(saved.photos.every((p) => p.status === 'done')).toBe(true)
  const key = saved.key

  // 服务器其实已经收到了这一条
  const mineBefore = await api.myReports(null, 100)
  expect(mineBefore.items.filter((r) => r.description === description)).toHaveLength(1)

  // 重新打开页面（草稿从存储里恢复），再点提交
  const again = renderPage('pages/report/new')
  expect(again.data.draft.key).toBe(key)
  expect(again.data.errorMessage).toContain('上次没有提交成功')
  const uploadsBefore = phone.calls.upload.length
  const navBefore = phone.calls.navigate.length
  again.querySelector('.bottom-bar .primary-btn').dispatchEvent('tap')
  await until(() => phone.calls.navigate.length > navBefore || again.data.errorMessage.startsWith('网络'), 'retry to finish')
  expect(phone.calls.upload.length).toBe(uploadsBefore) // 已上传的照片不再传
  const nav = phone.calls.navigate.slice(navBefore).find((n) => n[0] === 'redirectTo')
  expect(nav).toBeTruthy()

  const mine = await api.myReports(null, 100)
  const same = mine.items.filter((r) => r.description === description)
  expect(same).toHaveLength(1)
  expect(nav[1]).toContain(encodeURIComponent(same[0].number))
  expect(phone.store.has('tx:report-draft')).toBe(false)

  // 服务器的回答列出了附近同类、还没办完的那条（重办中的第二条），确认页照着显示
  expect(second).not.toBe('')
  const receipt = phone.store.get('tx:last-receipt')
  expect(receipt.nearby.map((/** @type {any} */ n) => n.number)).toContain(second)
  const done = renderPage('pages/report/done', { number: same[0].number })
  expect(text(done)).toContain('附近还有同类的问题在办理')
  expect(text(done)).toContain('路灯坏了一个星期，晚上很黑')
})
