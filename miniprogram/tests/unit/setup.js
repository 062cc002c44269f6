/** 每个单元测试：全新的 wx 替身（在 miniprogram-simulate 的 wx 之上覆盖），指向一个测试地址。 */
require('miniprogram-simulate')
const config = require('../../config')
const { createFakeWx } = require('./helpers/fake-wx')

beforeEach(() => {
  config.apiBaseUrl = 'https://tx.test'
  config.templates = { reportStatus: 'tmpl-status', notice: 'tmpl-notice', campaign: '' }
  const fake = createFakeWx()
  Object.assign(global.wx, fake.wx)
  global.fakeWx = fake
})

// 上一个测试里还在跑的异步操作（定位、登录…）先跑完，免得它用到下一个测试的 wx 替身。
afterEach(async () => {
  for (let i = 0; i < 40; i++) await new Promise((r) => setTimeout(r, 0))
})
