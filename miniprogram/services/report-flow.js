/**
 * 随手拍的提交流程（页面调用，测试也直接驱动它）：
 *   1. 逐张上传还没传好的照片（每张有进度、自动重试），每传好一张就存一次草稿；
 *   2. 带着草稿的 Idempotency-Key POST /reports；
 *   3. 服务器确认（201）后才删除草稿，并记下回执（含服务器列出的附近同类上报）给确认页显示。
 * 任何一步失败，草稿都留在本地，居民再点提交时从断点继续，且不会重复上报。
 */
const api = require('./api')
const drafts = require('./draft')
const storage = require('./storage')
const { explain } = require('./errors')

const RECEIPT_KEY = 'last-receipt'

/**
 * @typedef {import('./draft').Draft} Draft
 * @typedef {{ number: string, status: string, township: string, grid: string, category: string, createdAt: string, nearby: import('./api').NearbyReport[] }} Receipt
 * @typedef {{ onChange?: (d: Draft) => void, uploadRetries?: number, backoffMs?: number }} FlowOptions
 */

/**
 * 把草稿里还没上传的照片传上去。失败的照片标为 failed（可单独重试），然后抛出第一个错误。
 * @param {Draft} draft
 * @param {FlowOptions} [opts]
 * @returns {Promise<Draft>}
 */
async function uploadPending(draft, opts) {
  const { uploadPhoto } = require('./upload')
  const onChange = (opts && opts.onChange) || (() => {})
  let d = draft
  /** @type {unknown} */
  let firstError = null
  for (let i = 0; i < d.photos.length; i++) {
    const p = d.photos[i]
    if (p.status === 'done') continue
    d = withPhoto(d, i, { status: 'uploading', progress: 0, error: '' })
    onChange(d)
    try {
      const out = await uploadPhoto(p.path, {
        retries: opts && opts.uploadRetries,
        backoffMs: opts && opts.backoffMs,
        onProgress: (percent) => {
          d = withPhoto(d, i, { progress: percent })
          onChange(d)
        },
      })
      d = withPhoto(d, i, { status: 'done', progress: 100, uploadId: out.id, url: out.thumbnail_url || out.url })
    } catch (err) {
      d = withPhoto(d, i, { status: 'failed', error: explain(err) })
      if (!firstError) firstError = err
    }
    drafts.save(d)
    onChange(d)
  }
  if (firstError) throw Object.assign(firstError, { draft: d })
  return d
}

/**
 * @param {Draft} d @param {number} i @param {Partial<import('./draft').DraftPhoto>} patch
 * @returns {Draft}
 */
function withPhoto(d, i, patch) {
  const photos = d.photos.slice()
  photos[i] = Object.assign({}, photos[i], patch)
  return Object.assign({}, d, { photos })
}

/**
 * 提交草稿。成功返回服务器的上报；失败时草稿已保存（含给居民看的 lastError），错误照常抛出，
 * 错误对象上的 draft 是最新的草稿。
 * @param {Draft} draft
 * @param {FlowOptions} [opts]
 * @returns {Promise<import('./api').Report>}
 */
async function submit(draft, opts) {
  const onChange = (opts && opts.onChange) || (() => {})
  let d = Object.assign({}, draft, { lastError: '' })
  drafts.save(d)
  try {
    d = await uploadPending(d, opts)
    d = Object.assign({}, d, { attempts: d.attempts + 1 })
    drafts.save(d)
    onChange(d)
    const report = await api.createReport(drafts.toBody(d), d.key)
    drafts.clear()
    /** @type {Receipt} */
    const receipt = {
      number: report.number,
      status: report.status,
      township: report.township ? report.township.name : '',
      grid: report.grid ? report.grid.name : '',
      category: report.category ? report.category.name : '',
      createdAt: report.created_at,
      nearby: report.nearby || [],
    }
    storage.write(RECEIPT_KEY, receipt)
    return report
  } catch (err) {
    const latest = /** @type {any} */ (err) && /** @type {any} */ (err).draft ? /** @type {any} */ (err).draft : d
    const failed = Object.assign({}, latest, { lastError: explain(err) })
    drafts.save(failed)
    onChange(failed)
    throw Object.assign(/** @type {object} */ (err), { draft: failed })
  }
}

/** @returns {Receipt | null} 最近一次提交成功的回执 */
function lastReceipt() {
  return storage.read(RECEIPT_KEY, /** @type {Receipt | null} */ (null))
}

module.exports = { submit, uploadPending, lastReceipt, RECEIPT_KEY }
