/**
 * 通知公告与志愿活动，对着真实的同心：设置居住地；管理员发布通知，居民在列表看到未读、打开后
 * 回执已读；管理员发起志愿活动（1 个名额），一位居民报名成功、另一位进入候补；报名的居民扫现场
 * 签到码签到；活动结束后看到志愿时长。全部通过小程序自己的页面。
 */
const { renderPage, text } = require('../unit/helpers/render')
const { newResident, use, until } = require('./helpers')
const { admin } = require('./official')
const auth = require('../../services/auth')
const api = require('../../services/api')

const volunteer = newResident('volunteer')
const latecomer = newResident('latecomer')
let campaignNumber = ''

test('设置居住地：依次选街道、社区、网格并保存', async () => {
  use(volunteer)
  await auth.login()
  const page = renderPage('pages/me/home')
  await until(() => page.data.townships.length, 'townships')
  await page.instance.onTownship({ detail: { value: page.data.townships.findIndex((t) => t.code === 'yongsheng') } })
  await until(() => page.data.communities.length, 'communities')
  await page.instance.onCommunity({ detail: { value: 0 } })
  await until(() => page.data.grids.length, 'grids')
  page.instance.onGrid({ detail: { value: 0 } })
  await page.instance.onSave()
  expect(page.data.errorMessage).toBe('')
  expect(page.data.current).toBe('永盛街道 · 人民社区 · 第一网格')

  const me = renderPage('pages/me/index')
  await me.instance.onShow()
  expect(text(me)).toContain('第一网格')
  expect(text(me)).toContain('上报办理进度：剩')
})

test('通知公告：列表里是未读，打开看到清洗过的正文并回执已读', async () => {
  use(volunteer)
  const published = await admin(global.stack, 'POST', '/admin/notices', {
    title: '明早停水通知',
    body_html: '<p>明天 <strong>8:00–12:00</strong> 全县停水检修。</p><script>alert(1)</script><p onclick="steal()">请提前储水。</p>',
    target: { level: 'county' },
  })
  const number = published.number
  const list = renderPage('pages/notice/list')
  await list.instance.onShow()
  const item = list.data.items.find((n) => n.number === number)
  expect(item).toBeTruthy()
  expect(item.read).toBe(false)

  const detail = renderPage('pages/notice/detail', { number })
  await until(() => detail.data.readAt || detail.data.ackError || detail.data.errorMessage, 'notice to open')
  expect(detail.data.errorMessage).toBe('')
  expect(detail.data.readAt).not.toBe('')
  expect(detail.data.notice.html).toContain('全县停水检修')
  expect(detail.data.notice.html).not.toMatch(/script|onclick|alert/)
  expect(text(detail)).toContain('已阅读')

  await list.instance.onShow()
  expect(list.data.items.find((n) => n.number === number).read).toBe(true)
  const stats = await admin(global.stack, 'GET', '/admin/notices/' + number + '/stats')
  expect(stats.reads).toBe(1)
})

test('志愿活动：报名成功；名额满了的人进入候补并看到顺位', async () => {
  const now = Date.now()
  const created = await admin(global.stack, 'POST', '/admin/campaigns', {
    title: '清理小区积雪',
    description: '带好手套，物业提供铁锹',
    place: { name: '人民社区广场', lat: global.stack.here.lat, lng: global.stack.here.lng },
    radius_m: 500,
    starts_at: new Date(now - 10 * 60 * 1000).toISOString(),
    ends_at: new Date(now + 2 * 3600 * 1000).toISOString(),
    capacity: 1,
    scope: { level: 'township', township: 'yongsheng' },
    hours: 2,
  })
  campaignNumber = created.number

  use(volunteer)
  const list = renderPage('pages/campaign/list')
  await list.instance.onShow()
  expect(list.data.items.map((c) => c.number)).toContain(campaignNumber)

  const page = renderPage('pages/campaign/detail', { number: campaignNumber })
  await until(() => page.data.campaign, 'campaign to load')
  page.instance.onName({ detail: { value: '张三' } })
  page.instance.onPhone({ detail: { value: '13912345678' } })
  await page.instance.onSignup()
  expect(page.data.actionError).toBe('')
  expect(page.data.message).toContain('报名成功')
  expect(page.data.campaign.signedUp).toBe(true)
  expect(page.data.campaign.canCheckin).toBe(true)

  use(latecomer)
  await auth.login()
  await api.setHome({ township: 'yongsheng' })
  const other = renderPage('pages/campaign/detail', { number: campaignNumber })
  await until(() => other.data.campaign, 'campaign to load')
  await other.instance.onSignup()
  expect(other.data.message).toContain('候补第 1 位')
  expect(text(other)).toContain('候补第 1 位')
  // 候补的人可以取消
  await other.instance.onCancel()
  expect(other.data.message).toContain('已取消报名')
  expect(other.data.campaign.signedUp).toBe(false)
})

test('签到：扫别的活动的码被拦下；扫本活动现场的码签到成功；活动结束后看到志愿时长', async () => {
  use(volunteer)
  const page = renderPage('pages/campaign/detail', { number: campaignNumber })
  await until(() => page.data.campaign, 'campaign to load')

  volunteer.state.scan = 'TXC:V9999:123456'
  await page.instance.onScan()
  expect(page.data.actionError).toContain('另一个活动')

  const code = await admin(global.stack, 'GET', '/admin/campaigns/' + campaignNumber + '/checkin-code')
  volunteer.state.scan = code.qr_text
  await page.instance.onScan()
  expect(page.data.actionError).toBe('')
  expect(page.data.message).toContain('签到成功')
  expect(page.data.campaign.checkedIn).toBe(true)

  await admin(global.stack, 'POST', '/admin/campaigns/' + campaignNumber + '/complete')
  const hours = renderPage('pages/campaign/hours')
  await hours.instance.onShow()
  expect(hours.data.total).toBe('2 小时')
  expect(text(hours)).toContain('清理小区积雪')
})

test('首页：最新通知和我的活动都在', async () => {
  use(volunteer)
  const home = renderPage('pages/index/index')
  await home.instance.onShow()
  expect(home.data.errorMessage).toBe('')
  expect(text(home)).toContain('明早停水通知')
})
