/**
 * 同心居民端接口（/api/v1，见 CONTRACT.md 第 3 节与 GET /api/v1/openapi.json）。
 * 页面只通过这里访问服务器。
 */
const { request } = require('./http')

/**
 * @typedef {{ code: string, name: string }} CodeName
 * @typedef {{ id: number, name: string }} IdName
 * @typedef {{ url: string, thumbnail_url?: string, kind?: string }} Photo
 * @typedef {{ kind: string, name: string }} Actor
 * @typedef {{ at: string, status: string, action: string, channel: string, actor: Actor, note: string, photos?: Photo[] }} TimelineEntry
 * @typedef {{ name: string, community?: string | null } | null} GridRef
 * @typedef {Object} Report
 * @property {string} number
 * @property {string} status
 * @property {CodeName} category
 * @property {string} description
 * @property {CodeName} township
 * @property {{ lat: number, lng: number, address: string }} location
 * @property {Photo[]} photos
 * @property {boolean} anonymous
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string | null} reply
 * @property {{ score: number, comment: string } | null} rating
 * @property {GridRef} grid 分派到的网格，null 表示还待指派
 * @property {Photo[]} completion_photos 办结时工作人员拍的照片
 * @property {number} supporters 点了「我也遇到」的居民人数
 * @property {string | null} merged_into 合并到的那条上报的编号（status 为 merged 时）
 * @property {'own' | 'following'} [relation] 列表里：自己报的，还是「我也遇到」关注的
 * @property {TimelineEntry[]} [timeline]
 * @typedef {{ items: Report[], next_cursor: string | null }} ReportPage
 * @typedef {{ category: string, description: string, township: string, location: { lat: number, lng: number, address: string }, photos: string[], anonymous: boolean }} ReportBody
 * @typedef {{ township: CodeName | null, grid: { name: string, community: string } | null, rule: 'boundary' | 'nearest_centre' | 'home' | 'none', distance_m?: number | null, note?: string }} Located
 * @typedef {{ number: string, category: CodeName, status: string, distance_m: number, created_at: string, summary: string, thumbnail_url: string | null }} NearbyReport
 */

// ---- 公共列表

/** @returns {Promise<{ items: Array<CodeName & { kind: string }> }>} */
const townships = () => request({ path: '/townships', auth: false })
/** @returns {Promise<{ items: Array<CodeName & { help: string }> }>} 类别和给居民看的说明（可能为空） */
const categories = () => request({ path: '/categories', auth: false })
/** @param {string} code @returns {Promise<{ items: Array<IdName & { kind: string }> }>} */
const communities = (code) => request({ path: '/townships/' + encodeURIComponent(code) + '/communities', auth: false })
/** @param {number} id @returns {Promise<{ items: Array<IdName & { center: { lat: number, lng: number } | null }> }>} */
const grids = (id) => request({ path: '/communities/' + id + '/grids', auth: false })

// ---- 我

const me = () => request({ path: '/me' })
/** @returns {Promise<{ township: CodeName | null, community: IdName | null, grid: IdName | null }>} */
const home = () => request({ path: '/me/home' })
/** @param {{ township?: string | null, community?: number | null, grid?: number | null, lat?: number, lng?: number }} body */
const setHome = (body) => request({ method: 'PUT', path: '/me/home', data: body })
/** @returns {Promise<{ items: Array<{ template_id: string, remaining: number }> }>} */
const subscriptions = () => request({ path: '/me/subscriptions' })
/** @param {string[]} templateIds */
const addSubscriptions = (templateIds) => request({ method: 'POST', path: '/me/subscriptions', data: { template_ids: templateIds } })

// ---- 上报

/** @param {ReportBody} body @param {string} idempotencyKey @returns {Promise<Report & { nearby?: NearbyReport[] }>} */
const createReport = (body, idempotencyKey) =>
  request({ method: 'POST', path: '/reports', data: body, header: { 'Idempotency-Key': idempotencyKey } })
/** @param {string | null} [cursor] @param {number} [limit] @returns {Promise<ReportPage>} */
const myReports = (cursor, limit) => request({ path: '/reports', query: { mine: 'true', cursor, limit } })
/** @param {string} number @returns {Promise<Report>} */
const report = (number) => request({ path: '/reports/' + encodeURIComponent(number) })
/** @param {string} number @param {number} score @param {string} comment @returns {Promise<Report>} */
const rate = (number, score, comment) =>
  request({ method: 'POST', path: '/reports/' + encodeURIComponent(number) + '/rating', data: { score, comment } })
/** @param {string} number @param {string} reason @returns {Promise<Report>} */
const reopen = (number, reason) =>
  request({ method: 'POST', path: '/reports/' + encodeURIComponent(number) + '/reopen', data: { reason } })

// ---- 定位：这个位置的上报会交给谁

/**
 * 一个位置的上报会交给哪个乡镇/街道和网格，按服务器的上报分派规则（GET /locate，不保存）。
 * township 是居民自己选的乡镇/街道（可不填）：位置不在任何网格内时，按它找最近的网格中心点。
 * @param {number} lat
 * @param {number} lng
 * @param {string} [township]
 * @returns {Promise<Located>}
 */
const locate = (lat, lng, township) => request({ path: '/locate', query: { lat, lng, township } })

// ---- 我也遇到

/**
 * 附近同类、还没办完的上报，近的在前（不含上报人的任何信息）。
 * @param {number} lat @param {number} lng @param {string} category
 * @returns {Promise<{ items: NearbyReport[] }>}
 */
const nearby = (lat, lng, category) => request({ path: '/reports/nearby', query: { lat, lng, category } })
/**
 * 我也遇到：关注这条上报（之后它的办理进度也通知我，「我的上报」里也有它）。按多次只算一次。
 * @param {string} number @returns {Promise<{ number: string, supporters: number }>}
 */
const support = (number) => request({ method: 'POST', path: '/reports/' + encodeURIComponent(number) + '/support' })

// ---- 通知公告

/** @param {string | null} [cursor] */
const notices = (cursor) => request({ path: '/notices', query: { cursor } })
/** @param {string} number */
const notice = (number) => request({ path: '/notices/' + encodeURIComponent(number) })
/** @param {string} number @returns {Promise<{ number: string, read_at: string }>} */
const markNoticeRead = (number) => request({ method: 'POST', path: '/notices/' + encodeURIComponent(number) + '/read' })

// ---- 志愿活动

/** @param {'upcoming' | 'all'} [when] @param {string | null} [cursor] */
const campaigns = (when, cursor) => request({ path: '/campaigns', query: { when, cursor } })
/** @param {string} number */
const campaign = (number) => request({ path: '/campaigns/' + encodeURIComponent(number) })
/** @param {string} number @param {{ name?: string, phone?: string }} body */
const signup = (number, body) => request({ method: 'POST', path: '/campaigns/' + encodeURIComponent(number) + '/signup', data: body })
/** @param {string} number */
const cancelSignup = (number) => request({ method: 'DELETE', path: '/campaigns/' + encodeURIComponent(number) + '/signup' })
/** @param {string} number @param {{ code: string, lat?: number, lng?: number }} body */
const checkin = (number, body) => request({ method: 'POST', path: '/campaigns/' + encodeURIComponent(number) + '/checkin', data: body })
/** @param {string | null} [cursor] */
const mySignups = (cursor) => request({ path: '/me/signups', query: { cursor } })
/** @returns {Promise<{ total_hours: number, items: Array<{ campaign?: string, number?: string, title?: string, hours: number, credited_at?: string }> }>} */
const volunteerHours = () => request({ path: '/me/volunteer-hours' })

module.exports = {
  townships, categories, communities, grids,
  me, home, setHome, subscriptions, addSubscriptions,
  createReport, myReports, report, rate, reopen,
  locate, nearby, support,
  notices, notice, markNoticeRead,
  campaigns, campaign, signup, cancelSignup, checkin, mySignups, volunteerHours,
}
