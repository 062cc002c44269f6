/**
 * 通知公告与志愿活动里页面用到的小逻辑：通知正文的显示处理、签到码的扫码与核对、报名状态的说法。
 */
const api = require('./api')
const location = require('./location')
const { ApiError } = require('./errors')

/**
 * 通知正文在服务器上已经按白名单清洗过；这里再做两件事：去掉任何事件属性和脚本（多一道保险），
 * 给图片加上自适应宽度（rich-text 不会自己缩放图片）。
 * @param {string} html
 */
function prepareNoticeHtml(html) {
  return String(html || '')
    .replace(/<(script|style|iframe|object)[\s\S]*?<\/\1>/gi, '')
    .replace(/\s+on[a-z]+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, '')
    .replace(/(href|src)\s*=\s*("|')\s*javascript:[^"']*\2/gi, '')
    .replace(/<img\b/gi, '<img style="max-width:100%;height:auto;display:block;margin:8px 0"')
}

/**
 * 扫码得到的文字是不是这个活动的签到码（TXC:<活动编号>:<签到码>），或 6 位数字。
 * @param {string} text
 * @param {string} number
 * @returns {{ ok: boolean, message: string }}
 */
function checkScanned(text, number) {
  const t = String(text || '').trim()
  const m = /^TXC:([^:]+):(\d{4,10})$/.exec(t)
  if (m) {
    if (m[1] !== number) return { ok: false, message: '这是另一个活动（' + m[1] + '）的签到码，请扫本活动现场的二维码。' }
    return { ok: true, message: '' }
  }
  if (/^\d{6}$/.test(t)) return { ok: true, message: '' }
  return { ok: false, message: '这不是志愿活动的签到二维码，请扫现场工作人员出示的签到码。' }
}

/** @returns {Promise<string>} 扫到的文字 */
function scan() {
  return new Promise((resolve, reject) => {
    wx.scanCode({
      onlyFromCamera: true,
      scanType: ['qrCode'],
      success: (res) => resolve(res.result),
      fail: (err) => reject(new ApiError(0, /cancel/.test(String(err && err.errMsg)) ? 'scan_cancelled' : 'scan_failed', '')),
    })
  })
}

/**
 * 签到：code 为扫到的文字或手输的 6 位码；带上当前位置（拿不到位置也提交，由服务器判断）。
 * @param {string} number
 * @param {string} code
 */
async function checkinWith(number, code) {
  const check = checkScanned(code, number)
  if (!check.ok) throw new ApiError(0, 'wrong_qr', check.message)
  /** @type {{ code: string, lat?: number, lng?: number }} */
  const body = { code: code.trim() }
  try {
    const here = await location.currentPlace()
    body.lat = here.lat
    body.lng = here.lng
  } catch (e) {
    // 没有位置时服务器会说明需要位置
  }
  return api.checkin(number, body)
}

/**
 * 我的报名状态的说法。
 * @param {{ status: string, position: number | null, checked_in_at: string | null } | null} s
 */
function signupText(s) {
  if (!s || s.status === 'cancelled') return ''
  if (s.checked_in_at) return '已签到'
  if (s.status === 'confirmed') return '已报名'
  if (s.status === 'waitlisted') return '候补第 ' + (s.position || '?') + ' 位：有人取消时按顺序自动转为正式报名'
  return s.status
}

/** @type {Record<string, string>} */
const CAMPAIGN_STATUS = { published: '报名中', cancelled: '已取消', completed: '已结束' }

module.exports = { prepareNoticeHtml, checkScanned, scan, checkinWith, signupText, CAMPAIGN_STATUS }
