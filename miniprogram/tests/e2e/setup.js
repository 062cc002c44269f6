/** e2e 每个测试文件：读出环境地址，让小程序的 config 指向这台真实的同心。 */
require('miniprogram-simulate')
const config = require('../../config')

const raw = process.env.TONGXIN_E2E_STACK
if (!raw) throw new Error('TONGXIN_E2E_STACK is not set: the e2e global setup did not run')
global.stack = JSON.parse(raw)
config.apiBaseUrl = global.stack.api
config.templates = Object.assign({}, global.stack.templates)
jest.setTimeout(60000)
