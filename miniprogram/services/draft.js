/**
 * 随手拍草稿：在本地存储里保存，直到服务器确认收到（201）才删除。
 * 每份草稿有自己的 Idempotency-Key：网络断了重试，服务器也只会记一条。
 */
const config = require('../config')
const storage = require('./storage')

const KEY = 'report-draft'

/**
 * @typedef {'pending'|'uploading'|'done'|'failed'} PhotoStatus
 * @typedef {{ path: string, status: PhotoStatus, progress: number, uploadId: string, url: string, error: string }} DraftPhoto
 * @typedef {{ lat: number, lng: number, address: string, source: 'gps'|'map' }} DraftLocation
 * @typedef {Object} DraftTownship
 * @property {string} code
 * @property {string} name
 * @property {boolean} proposed 按位置推荐的（居民自己选的为 false）
 * @property {string} gridName 会分派到的网格（GET /locate），空表示待指派
 * @property {string} [route] 怎么定的，说给居民听
 * @typedef {Object} Draft
 * @property {string} key Idempotency-Key
 * @property {DraftPhoto[]} photos
 * @property {string} category
 * @property {string} description
 * @property {DraftLocation | null} location
 * @property {DraftTownship | null} township
 * @property {boolean} anonymous
 * @property {number} attempts 已经向服务器提交过几次
 * @property {string} lastError 上次失败的原因（给居民看的话）
 * @property {string} createdAt
 */

/** 一个足够随机、只含可见 ASCII 的键（服务器要求 1–128 个字符）。 */
function newKey() {
  let rand = ''
  for (let i = 0; i < 4; i++) rand += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')
  return 'mp-' + Date.now().toString(36) + '-' + rand
}

/** @returns {Draft} */
function newDraft() {
  return {
    key: newKey(),
    photos: [],
    category: '',
    description: '',
    location: null,
    township: null,
    anonymous: false,
    attempts: 0,
    lastError: '',
    createdAt: new Date().toISOString(),
  }
}

/** @returns {Draft | null} 保存着的草稿 */
function load() {
  const d = storage.read(KEY, /** @type {Draft | null} */ (null))
  if (!d || typeof d !== 'object' || typeof d.key !== 'string') return null
  // 上次关掉小程序时正在上传的照片，这次需要重新上传
  d.photos = (d.photos || []).map((p) => (p.status === 'uploading' ? Object.assign({}, p, { status: 'pending', progress: 0 }) : p))
  return d
}

/** @returns {Draft} 保存着的草稿，没有就新建一份 */
function loadOrCreate() {
  return load() || newDraft()
}

/** @param {Draft} d */
function save(d) {
  storage.write(KEY, d)
}

function clear() {
  storage.remove(KEY)
}

/**
 * 换一个新的 Idempotency-Key（居民确认要作为新的一条提交时）。
 * @param {Draft} d
 * @returns {Draft}
 */
function renewKey(d) {
  return Object.assign({}, d, { key: newKey(), attempts: 0, lastError: '' })
}

/**
 * 字数按字符算（一个汉字、一个 emoji 都算一个），与服务器一致。
 * @param {string} s
 */
function countChars(s) {
  return Array.from(s || '').length
}

/**
 * 提交前检查；返回 { 输入项: 说明 }，空对象表示可以提交。
 * @param {Draft} d
 * @param {{ maxChars?: number, maxPhotos?: number }} [limits]
 * @returns {Record<string, string>}
 */
function validate(d, limits) {
  const maxChars = (limits && limits.maxChars) || config.descriptionMaxChars
  const maxPhotos = (limits && limits.maxPhotos) || config.maxPhotos
  /** @type {Record<string, string>} */
  const errors = {}
  if (!d.category) errors.category = '请选择问题类别'
  const text = (d.description || '').trim()
  if (!text) errors.description = '请简单描述一下问题'
  else if (countChars(text) > maxChars) errors.description = '描述最多 ' + maxChars + ' 字，现在多了 ' + (countChars(text) - maxChars) + ' 字'
  if (!d.location) errors.location = '请获取当前位置，或在地图上选一个位置'
  if (!d.township) errors.township = '请选择问题所在的乡镇/街道'
  if (d.photos.length > maxPhotos) errors.photos = '最多 ' + maxPhotos + ' 张照片'
  return errors
}

/**
 * 服务器要的上报内容（照片须已上传）。
 * @param {Draft} d
 * @returns {import('./api').ReportBody}
 */
function toBody(d) {
  if (!d.location || !d.township) throw new Error('draft is incomplete')
  return {
    category: d.category,
    description: d.description.trim(),
    township: d.township.code,
    location: { lat: d.location.lat, lng: d.location.lng, address: d.location.address || '' },
    photos: d.photos.filter((p) => p.status === 'done').map((p) => p.uploadId),
    anonymous: !!d.anonymous,
  }
}

/** @param {Draft} d 草稿里是否有居民填过的东西 */
function hasContent(d) {
  return !!(d.photos.length || d.description.trim() || d.category || d.location)
}

module.exports = { newDraft, load, loadOrCreate, save, clear, renewKey, countChars, validate, toBody, hasContent, newKey, KEY }
