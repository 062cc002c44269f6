/**
 * 订阅消息：wx.requestSubscribeMessage 只能在居民点按钮时调用；同意了几个模板，就
 * POST /api/v1/me/subscriptions 告诉服务器几个（每次通知用掉一次）。
 */
const config = require('../config')
const api = require('./api')

/** 为什么要订阅（页面上在按钮旁边显示）。 */
const WHY = {
  reportStatus: '提交时微信会问您是否接收「办理进度」通知：同意后，受理、办结时会在微信里提醒您一次，不同意也能在「我的上报」里随时查看。',
  notice: '同意后，本地有新通知时微信会提醒您一次。',
  campaign: '同意后，候补转为正式报名、活动开始前和活动取消时微信会提醒您。',
}

/**
 * @param {Array<'reportStatus'|'notice'|'campaign'>} kinds
 * @returns {string[]} 已配置的模板 id
 */
function templateIds(kinds) {
  /** @type {Record<string, string>} */
  const t = config.templates || {}
  return kinds.map((k) => t[k]).filter((id) => typeof id === 'string' && id && !/^REPLACE/.test(id))
}

/**
 * 请求授权并登记到服务器。必须在点击事件里直接调用（不能先 await 别的）。
 * 居民拒绝、没有配置模板、登记失败，都不影响后面的操作：返回登记成功的模板 id。
 * @param {Array<'reportStatus'|'notice'|'campaign'>} kinds
 * @returns {Promise<string[]>}
 */
function ask(kinds) {
  const ids = templateIds(kinds)
  if (!ids.length) return Promise.resolve([])
  /** @type {Promise<string[]>} */
  const accepted = new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => resolve(ids.filter((id) => /** @type {Record<string, string>} */ (/** @type {unknown} */ (res))[id] === 'accept')),
      fail: () => resolve([]),
    })
  })
  return accepted.then(async (ok) => {
    if (!ok.length) return []
    try {
      await api.addSubscriptions(ok)
      return ok
    } catch (e) {
      return []
    }
  })
}

module.exports = { ask, templateIds, WHY }
