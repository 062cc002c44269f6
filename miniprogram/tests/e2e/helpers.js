/** e2e 测试的小工具：一位“居民”（自己的手机 = 自己的 wx 和存储），切换当前居民，等待页面完成。 */
const fs = require('fs')
const os = require('os')
const path = require('path')
const crypto = require('crypto')
const { createRealWx } = require('./wx-shim')
const { makePng } = require('./png')

/** @type {string | null} */
let tmp = null
function tmpDir() {
  if (!tmp) tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tongxin-e2e-phone-'))
  return tmp
}
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  tmp = null
})

/** 一位新居民（新的 openid、空的本地存储），站在网格中心。 @param {string} tag */
function newResident(tag) {
  const openid = `o-e2e-${tag}-${crypto.randomBytes(5).toString('hex')}`
  return createRealWx({ wechat: global.stack.wechat, openid, tmpDir: tmpDir(), location: Object.assign({}, global.stack.here) })
}

/** 之后的 wx 调用都来自这位居民的手机。 @param {ReturnType<typeof createRealWx>} phone */
function use(phone) {
  Object.assign(global.wx, phone.wx)
  return phone
}

let photoSeq = 0
/** 在“相册”里放 n 张真实的 PNG 照片，返回路径。 @param {number} n */
function photos(n) {
  const out = []
  for (let i = 0; i < n; i++) {
    const p = path.join(tmpDir(), `photo-${++photoSeq}.png`)
    fs.writeFileSync(p, makePng(96, 72, photoSeq))
    out.push(p)
  }
  return out
}

/**
 * 等到 check() 为真（页面的异步操作走完）。
 * @param {() => any} check @param {string} what @param {number} [timeoutMs]
 */
async function until(check, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = check()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for ' + what)
    await new Promise((r) => setTimeout(r, 20))
  }
}

module.exports = { newResident, use, photos, until, tmpDir }
