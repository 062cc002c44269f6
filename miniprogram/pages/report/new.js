/**
 * 随手拍：照片（最多 9 张）、位置、乡镇/街道（按位置推荐，可改）、类别、描述、匿名。
 * 草稿一直存在本地，服务器确认收到才删除；同一份草稿只有一个 Idempotency-Key。
 */
const config = require('../../config')
const api = require('../../services/api')
const drafts = require('../../services/draft')
const flow = require('../../services/report-flow')
const location = require('../../services/location')
const subscribe = require('../../services/subscribe')
const { explain } = require('../../services/errors')
const { categoryHelp } = require('../../utils/format')

/** @typedef {import('../../services/draft').Draft} Draft */

/** @param {Draft} d 页面上由草稿算出来的显示内容 */
function derived(d) {
  const chars = drafts.countChars(d.description)
  return {
    draft: d,
    charCount: chars,
    overLimit: chars > config.descriptionMaxChars,
    locationText: d.location ? location.describe(d.location) : '',
    hasDraftContent: drafts.hasContent(d),
  }
}

Component({
  data: {
    draft: drafts.newDraft(),
    maxChars: config.descriptionMaxChars,
    maxPhotos: config.maxPhotos,
    charCount: 0,
    overLimit: false,
    locationText: '',
    hasDraftContent: false,
    categories: /** @type {Array<{ code: string, name: string, help: string }>} */ ([]),
    categoryIndex: -1,
    townships: /** @type {Array<{ code: string, name: string }>} */ ([]),
    townshipIndex: -1,
    errors: /** @type {Record<string, string>} */ ({}),
    errorMessage: '',
    listsError: '',
    locating: false,
    submitting: false,
    stage: '',
    keyReused: false,
    subscribeWhy: subscribe.WHY.reportStatus,
    anonymousHint: '匿名后，办理的工作人员看不到您的微信昵称和身份，只看到问题本身；您仍能在「我的上报」里跟进和评价。',
  },
  methods: {
    onLoad() {
      const d = drafts.loadOrCreate()
      this.setData(derived(d))
      if (d.lastError) this.setData({ errorMessage: '上次没有提交成功：' + d.lastError })
      this.loadLists()
      if (!d.location) this.onUseCurrentLocation()
    },

    async loadLists() {
      try {
        const [cats, towns] = await Promise.all([api.categories(), api.townships()])
        const categories = cats.items.map((c) => ({ code: c.code, name: c.name, help: categoryHelp(c) }))
        const townships = towns.items.map((t) => ({ code: t.code, name: t.name }))
        this.setData({ categories, townships, listsError: '' })
        this.syncPickers()
      } catch (err) {
        this.setData({ listsError: explain(err) })
      }
    },

    /** 让两个选择器的当前项跟草稿一致。 */
    syncPickers() {
      const d = this.data.draft
      this.setData({
        categoryIndex: this.data.categories.findIndex((c) => c.code === d.category),
        townshipIndex: d.township ? this.data.townships.findIndex((t) => t.code === (d.township && d.township.code)) : -1,
      })
    },

    /** @param {Draft} d */
    update(d) {
      drafts.save(d)
      this.setData(derived(d))
    },

    // ---- 照片
    onAddPhotos() {
      const d = this.data.draft
      const room = config.maxPhotos - d.photos.length
      if (room <= 0 || this.data.submitting) return
      wx.chooseMedia({
        count: room,
        mediaType: ['image'],
        sourceType: ['camera', 'album'],
        sizeType: ['compressed'],
        success: (res) => {
          const cur = this.data.draft
          const added = res.tempFiles.slice(0, config.maxPhotos - cur.photos.length).map((f) => ({
            path: f.tempFilePath, status: /** @type {'pending'} */ ('pending'), progress: 0, uploadId: '', url: '', error: '',
          }))
          this.update(Object.assign({}, cur, { photos: cur.photos.concat(added) }))
          this.setData({ 'errors.photos': '' })
        },
      })
    },

    /** @param {WechatMiniprogram.CustomEvent<{ index: number }>} e */
    onRemovePhoto(e) {
      const d = this.data.draft
      const photos = d.photos.filter((_, i) => i !== e.detail.index)
      this.update(Object.assign({}, d, { photos }))
    },

    /** @param {WechatMiniprogram.CustomEvent<{ index: number }>} e */
    async onRetryPhoto(e) {
      if (this.data.submitting) return
      const d = this.data.draft
      const photos = d.photos.map((p, i) => (i === e.detail.index ? Object.assign({}, p, { status: 'pending', error: '' }) : p))
      this.setData({ submitting: true, stage: '正在重新上传照片…', errorMessage: '' })
      try {
        await flow.uploadPending(Object.assign({}, d, { photos }), { onChange: (nd) => this.setData(derived(nd)) })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      } finally {
        this.setData({ submitting: false, stage: '' })
      }
    },

    // ---- 位置和乡镇/街道
    async onUseCurrentLocation() {
      this.setData({ locating: true, 'errors.location': '' })
      try {
        const place = await location.currentPlace()
        await this.setPlace(place)
      } catch (err) {
        this.setData({ 'errors.location': err instanceof Error ? err.message : explain(err) })
      } finally {
        this.setData({ locating: false })
      }
    },

    async onPickOnMap() {
      const d = this.data.draft
      try {
        const place = await location.pickOnMap(d.location)
        await this.setPlace(place)
      } catch (err) {
        if (err instanceof location.LocationError && err.reason === 'cancelled') return
        this.setData({ 'errors.location': err instanceof Error ? err.message : explain(err) })
      }
    },

    /** @param {import('../../services/location').Place} place */
    async setPlace(place) {
      /** @type {Draft} */
      let d = Object.assign({}, this.data.draft, { location: place })
      this.update(d)
      try {
        const found = await api.locate(place.lat, place.lng)
        d = this.data.draft
        // 居民自己选过的乡镇/街道不被推荐覆盖
        if (found && found.township && !(d.township && !d.township.proposed)) {
          const grid = found.grid && found.grid.name ? found.grid.name : ''
          this.update(Object.assign({}, d, { township: { code: found.township.code, name: found.township.name, proposed: true, gridName: grid } }))
          this.setData({ 'errors.township': '' })
          this.syncPickers()
        }
      } catch (err) {
        // 推荐不了就让居民自己选
      }
    },

    /** @param {WechatMiniprogram.PickerChange} e */
    onTownshipChange(e) {
      const t = this.data.townships[Number(e.detail.value)]
      if (!t) return
      this.update(Object.assign({}, this.data.draft, { township: { code: t.code, name: t.name, proposed: false, gridName: '' } }))
      this.setData({ townshipIndex: Number(e.detail.value), 'errors.township': '' })
    },

    // ---- 类别、描述、匿名
    /** @param {WechatMiniprogram.PickerChange} e */
    onCategoryChange(e) {
      const c = this.data.categories[Number(e.detail.value)]
      if (!c) return
      this.update(Object.assign({}, this.data.draft, { category: c.code }))
      this.setData({ categoryIndex: Number(e.detail.value), 'errors.category': '' })
    },

    /** @param {WechatMiniprogram.Input} e */
    onDescriptionInput(e) {
      this.update(Object.assign({}, this.data.draft, { description: e.detail.value }))
      if (this.data.errors.description) this.setData({ 'errors.description': '' })
    },

    /** @param {WechatMiniprogram.SwitchChange} e */
    onAnonymousChange(e) {
      this.update(Object.assign({}, this.data.draft, { anonymous: !!e.detail.value }))
    },

    // ---- 提交
    onSubmit() {
      if (this.data.submitting) return
      const d = this.data.draft
      const errors = drafts.validate(d)
      if (Object.keys(errors).length) {
        this.setData({ errors, errorMessage: '还有 ' + Object.keys(errors).length + ' 项需要补充，请看标红的地方。' })
        return
      }
      // 订阅消息必须在点击里直接申请；申请的结果不影响提交。
      const consent = subscribe.ask(['reportStatus'])
      this.setData({ errors: {}, errorMessage: '', submitting: true, stage: '正在上传照片…' })
      return consent.then(() => this.doSubmit())
    },

    async doSubmit() {
      try {
        const report = await flow.submit(this.data.draft, {
          onChange: (nd) => {
            const uploading = nd.photos.some((p) => p.status !== 'done')
            this.setData(Object.assign(derived(nd), { stage: uploading ? '正在上传照片…' : '正在提交…' }))
          },
        })
        this.setData(Object.assign(derived(drafts.newDraft()), { submitting: false, stage: '', keyReused: false }))
        wx.redirectTo({ url: '/pages/report/done?number=' + encodeURIComponent(report.number) })
        return report
      } catch (err) {
        const code = /** @type {any} */ (err) && /** @type {any} */ (err).code
        this.setData({ submitting: false, stage: '', errorMessage: explain(err), keyReused: code === 'idempotency_key_reused' })
        if (/** @type {any} */ (err).field === 'description') this.setData({ 'errors.description': explain(err) })
        return null
      }
    },

    /** 之前那次提交可能已经成功、但内容又改过：居民确认后，作为新的一条提交。 */
    onSubmitAsNew() {
      this.update(drafts.renewKey(this.data.draft))
      this.setData({ keyReused: false, errorMessage: '' })
      return this.onSubmit()
    },

    onDiscard() {
      wx.showModal({
        title: '清空草稿',
        content: '照片、位置和描述都会清空，确定吗？',
        confirmText: '清空',
        success: (res) => {
          if (!res.confirm) return
          drafts.clear()
          this.setData(Object.assign(derived(drafts.newDraft()), { errors: {}, errorMessage: '', categoryIndex: -1, townshipIndex: -1, keyReused: false }))
        },
      })
    },
  },
})
