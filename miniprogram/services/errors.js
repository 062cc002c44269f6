/**
 * 接口错误：把 HTTP 状态和同心的错误码 {"error": {"code", "message", "field"}} 变成一个 Error，
 * 并把错误码翻译成居民看得懂的话。
 */

class ApiError extends Error {
  /**
   * @param {number} status HTTP 状态；网络没有到达服务器时为 0
   * @param {string} code 同心的错误码（snake_case），网络错误为 network_error
   * @param {string} message 服务器给的中文说明
   * @param {string} [field] 出错的输入项
   */
  constructor(status, code, message, field) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field || ''
  }
}

/** 错误码 → 给居民看的话（不出现技术词）。未列出的用服务器自己的中文说明。 */
const PLAIN_WORDS = {
  network_error: '网络不太好，没有连上服务器。请检查网络后再试一次，您填的内容都还在。',
  wechat_risky_user: '微信的安全系统认为您的账号暂时有风险，所以现在不能登录。这不是您做错了什么：请过一段时间再试；如果一直不行，可以在微信「我 → 设置 → 帐号与安全」里查看账号状态，或直接拨打社区电话反映问题。',
  wechat_rate_limited: '登录太频繁了，请休息一分钟再试。',
  wechat_code_invalid: '登录凭证过期了，请再点一次「微信一键登录」。',
  wechat_unavailable: '微信服务暂时连不上，请稍等几分钟再试。',
  daily_limit_exceeded: '您今天的上报已经达到每天的上限，请明天再报。已填的内容会帮您保存着。情况紧急的，请直接拨打 110、119、120 或社区电话。',
  content_rejected: '描述里有微信不允许发布的内容，没有提交成功。请改一改描述再提交，照片和位置都还在。',
  idempotency_key_reused: '这条上报之前已经提交过一次，之后内容又改动了。请先到「我的上报」看看是否已经提交成功；如果没有，可以点「作为新的一条提交」。',
  file_too_large: '这张照片太大了，请换一张或重新拍一张。',
  unsupported_media_type: '只能上传照片（JPG、PNG 等图片格式）。',
  invalid_image: '这张照片打不开，可能已损坏，请换一张。',
  unauthorized: '登录已失效，请重新登录。',
  report_not_found: '找不到这条上报，可能编号不对。',
  invalid_transition: '这条上报的状态刚刚变了，请下拉刷新后再看。',
  notice_not_found: '这条通知已经不在了。',
  campaign_not_found: '这个志愿活动已经不在了。',
  already_signed_up: '您已经报过名了。',
  campaign_ended: '活动已经结束，不能再报名了。',
  campaign_cancelled: '活动已经取消了。',
  signup_not_found: '您还没有报名这个活动。',
  already_checked_in: '您已经签到过了。',
  not_signed_up: '您还没有报名成功（候补中或未报名），暂时不能签到。',
  checkin_code_invalid: '签到码不对。请对准活动现场工作人员出示的二维码重新扫一次。',
  checkin_code_expired: '签到码已经过期了（每分钟会换一次），请重新扫现场的二维码。',
  no_grid_here: '这个位置附近没有找到网格，请从列表里选择。',
}

/** 这些错误的说明本身含有具体信息（时间、距离、哪个活动等），原样显示更好。 */
const KEEP_SERVER_WORDS = new Set(['wrong_qr', 'validation_failed', 'checkin_not_open', 'checkin_closed', 'checkin_too_far', 'capacity_below_signups'])

/**
 * 把任何错误变成一句给居民看的话。
 * @param {unknown} err
 * @returns {string}
 */
function explain(err) {
  if (err instanceof ApiError) {
    if (KEEP_SERVER_WORDS.has(err.code) && err.message) return stripFieldPrefix(err.message)
    if (Object.prototype.hasOwnProperty.call(PLAIN_WORDS, err.code)) return PLAIN_WORDS[/** @type {keyof typeof PLAIN_WORDS} */ (err.code)]
    if (err.status >= 500) return '服务器暂时出了点问题，请稍后再试。'
    if (err.message) return stripFieldPrefix(err.message)
  }
  if (err && typeof err === 'object' && 'errMsg' in err) return PLAIN_WORDS.network_error
  return '出了点问题，请稍后再试。'
}

/**
 * 服务器的校验说明形如 "description：问题描述不能超过 1000 字"；居民只需要冒号后面那句。
 * @param {string} message
 */
function stripFieldPrefix(message) {
  const m = /^[A-Za-z_.\-\d]+：(.+)$/.exec(message)
  return m ? m[1] : message
}

/**
 * 是否值得原样重试（网络问题、服务器暂时故障）。
 * @param {unknown} err
 */
function isRetryable(err) {
  return err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 429 && err.code !== 'daily_limit_exceeded')
}

module.exports = { ApiError, explain, isRetryable, stripFieldPrefix, PLAIN_WORDS }
