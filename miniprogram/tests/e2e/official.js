/**
 * 工作人员和管理员那一侧：签名的钉钉 @机器人 回调（POST /callbacks/dingtalk，
 * sign = base64(HMAC-SHA256(app_secret, timestamp + "\n" + app_secret))），带图片的消息（经假钉钉），
 * 管理员接口，以及
 * 让投递进程把发件箱投完（tongxin worker --drain）。
 */
const crypto = require('crypto')
const childProcess = require('child_process')
const { Buffer } = require('buffer')
const { httpCall } = require('./wx-shim')

/** @param {string} secret @param {string} timestamp */
function callbackSign(secret, timestamp) {
  return crypto.createHmac('sha256', secret).update(timestamp + '\n' + secret, 'utf8').digest('base64')
}

/**
 * 工作人员在群里 @机器人 说一句话。
 * @param {any} stack e2e 环境信息
 * @param {string} text 例如 "受理 R2026…"
 */
async function sayInGroup(stack, text) {
  const now = Date.now()
  const o = stack.official
  const payload = {
    msgtype: 'text',
    text: { content: ' ' + text },
    msgId: 'e2e-msg-' + crypto.randomBytes(8).toString('hex'),
    createAt: now,
    conversationType: '2',
    conversationId: o.conversationId,
    conversationTitle: '永盛街道工作群',
    senderId: '$:LWCP_v1:$e2e' + o.staffId,
    senderNick: o.name,
    senderStaffId: o.staffId,
    isAdmin: false,
    isInAtList: true,
    sessionWebhook: stack.dingtalk + '/robot/sendBySession?session=e2e-' + crypto.randomBytes(6).toString('hex'),
    sessionWebhookExpiredTime: now + 90 * 60 * 1000,
  }
  const ts = String(now)
  const res = await httpCall(stack.api + '/callbacks/dingtalk', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json; charset=utf-8', timestamp: ts, sign: callbackSign(stack.dingtalkAppSecret, ts) },
    body: Buffer.from(JSON.stringify(payload)),
  })
  if (res.status !== 200) throw new Error(`callback "${text}" → ${res.status} ${res.body.toString('utf8')}`)
  return res
}

/**
 * 工作人员在群里 @机器人 发一条带图片的消息（钉钉的 richText：文字 + 图片），例如「办结 <编号> <答复>」
 * 加一张办结照片。由假钉钉签名并投递到同心的 /callbacks/dingtalk（假钉钉按 --callback-url 投递），
 * 同心再从假钉钉的机器人消息文件下载接口取回图片。
 * @param {any} stack @param {string} text @param {Buffer[]} pictures
 */
async function sayInGroupWithPictures(stack, text, pictures) {
  const o = stack.official
  const res = await httpCall(stack.dingtalk + '/_fake/callback', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({
      conversation_id: o.conversationId, staff_id: o.staffId, text, pictures_b64: pictures.map((p) => p.toString('base64')),
    })),
  })
  const out = JSON.parse(res.body.toString('utf8'))
  if (res.status !== 200 || out.status !== 200) throw new Error(`picture callback "${text}" → ${res.status} ${res.body.toString('utf8')}`)
  return out
}

/**
 * 管理员接口（Authorization: Bearer admin.api_token）。
 * @param {any} stack @param {string} method @param {string} path @param {any} [data]
 */
async function admin(stack, method, path, data) {
  const res = await httpCall(stack.api + '/api/v1' + path, {
    method,
    headers: { Authorization: 'Bearer ' + stack.adminToken, 'Content-Type': 'application/json' },
    body: data === undefined ? undefined : Buffer.from(JSON.stringify(data)),
  })
  const text = res.body.toString('utf8')
  if (res.status >= 400) throw new Error(`${method} ${path} → ${res.status} ${text}`)
  return JSON.parse(text)
}

/** `tongxin worker --drain`：把现在到期的投递全部送出。 @param {any} stack */
function drainWorker(stack) {
  return new Promise((resolve, reject) => {
    childProcess.execFile(stack.tongxin, ['worker', '--drain'], { env: Object.assign({}, process.env, { TONGXIN_CONFIG: stack.config }), timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)))
  })
}

/** 假微信收到的订阅消息。 @param {any} stack @returns {Promise<any[]>} */
async function wechatMessages(stack) {
  const res = await httpCall(stack.wechat + '/_fake/messages', {})
  return JSON.parse(res.body.toString('utf8')).items
}

module.exports = { sayInGroup, sayInGroupWithPictures, admin, drainWorker, wechatMessages, callbackSign }
