/**
 * 随手拍：照片（最多 9 张）、位置、乡镇/街道和网格（GET /locate 按位置推荐，说明怎么定的，可改）、
 * 类别（服务器给的说明）、附近同类的上报（可以点「我也遇到」而不再报一条）、描述、匿名。
 * 草稿一直存在本地，服务器确认收到才删除；同一份草稿只有一个 Idempotency-Key。
 */
const config = require('../../config')
const api = require('../../services/api')
const drafts = require('../../services/draft')
const flow = require('../../services/report-flow')
const location = require('../../services/location')
const subscribe = require('../../services/subscribe')
const { explain } = require('../../services/errors')
const { formatTime, routeText, statusInfo } = require('../../utils/format')

/** @typedef {import('../../services/draft').Draft} Draft */

/** @param {import('../../services/api').NearbyReport} n 附近的一条上报，给居民看的样子 */
function nearbyRow(n) {
  return {
    number: n.number,
    summary: n.summary,
    distance: '约 ' + Math.max(1, Math.round(n.distance_m)) + ' 米',
    status: statusInfo(n.status).label,
    time: formatTime(n.created_at),
    thumb: n.thumbnail_url || '',
  }
}

/** 附近查询的序号：只用最后一次查询的结果。 */
let nearbySeq = 0

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
    routeHint: '',
    nearby: /** @type {ReturnType<typeof nearbyRow>[]} */ ([]),
    nearbyError: '',
    supporting: '',
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
      else this.refreshNearby()
    },

    async loadLists() {
      try {
        const [cats, towns] = await Promise.all([api.categories(), api.townships()])
        const categories = cats.items.map((c) => ({ code: c.code, name: c.name, help: c.help || '' }))
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
      this.update(Object.assign({}, this.data.draft, { location: place }))
      await Promise.all([this.relocate(), this.refreshNearby()])
    },

    /**
     * 问服务器这个位置的上报会交给谁（GET /locate）。居民自己选过乡镇/街道时带上它，只更新
     * 网格和说明，不覆盖居民的选择；位置落在别的乡镇/街道的网格里时照实说会改由谁办理。
     */
    async relocate() {
      const d0 = this.data.draft
      if (!d0.location) return
      const picked = d0.township && !d0.township.proposed ? d0.township : null
      /** @type {import('../../services/api').Located} */
      let found
      try {
        found = await api.locate(d0.location.lat, d0.location.lng, picked ? picked.code : undefined)
      } catch (err) {
        this.setData({ routeHint: picked ? '' : '暂时没能按位置推荐（' + explain(err) + '），请自己选择乡镇/街道。' })
        return
      }
      const d = this.data.draft
      const gridName = found.grid ? found.grid.name : ''
      if (picked) {
        if (!d.township || d.township.code !== picked.code) return // 查询期间居民又改了
        const moved = found.township && found.township.code !== picked.code
        const route = moved && found.township
          ? '这个位置在' + found.township.name + '的网格范围内，提交后会按位置改由' + found.township.name + '办理。'
          : routeText(found)
        this.update(Object.assign({}, d, { township: Object.assign({}, d.township, { gridName: moved ? '' : gridName, route }) }))
        this.setData({ routeHint: '' })
      } else if (found.township) {
        if (d.township && !d.township.proposed) return // 查询期间居民自己选了
        this.update(Object.assign({}, d, { township: { code: found.township.code, name: found.township.name, proposed: true, gridName, route: routeText(found) } }))
        this.setData({ 'errors.township': '', routeHint: '' })
        this.syncPickers()
      } else {
        this.setData({ routeHint: '这个位置附近没有找到对应的乡镇/街道，请自己选择。' })
      }
    },

    /** @param {WechatMiniprogram.PickerChange} e */
    onTownshipChange(e) {
      const t = this.data.townships[Number(e.detail.value)]
      if (!t) return
      this.update(Object.assign({}, this.data.draft, { township: { code: t.code, name: t.name, proposed: false, gridName: '', route: '' } }))
      this.setData({ townshipIndex: Number(e.detail.value), 'errors.township': '', routeHint: '' })
      return this.relocate()
    },

    // ---- 附近同类的上报（我也遇到）

    /** 位置和类别都有了，就看看附近有没有人报过同类、还没办完的问题。 */
    async refreshNearby() {
      const d = this.data.draft
      const seq = ++nearbySeq
      if (!d.location || !d.category) {
        this.setData({ nearby: [] })
        return
      }
      try {
        const out = await api.nearby(d.location.lat, d.location.lng, d.category)
        if (seq === nearbySeq) this.setData({ nearby: out.items.map(nearbyRow) })
      } catch (err) {
        if (seq === nearbySeq) this.setData({ nearby: [] }) // 查不到就照常上报
      }
    },

    /**
     * 我也遇到：居民确认是同一件事，就关注那一条（POST /reports/<编号>/support），不再报新的一条；
     * 草稿随之清空，转到那条上报的详情。
     * @param {WechatMiniprogram.BaseEvent} e
     */
    onSupport(e) {
      const number = String(e.currentTarget.dataset.number || '')
      if (!number || this.data.supporting || this.data.submitting) return Promise.resolve(false)
      return new Promise((resolve) => {
        wx.showModal({
          title: '我也遇到',
          content: '确认是同一件事吗？确认后不再提交这份草稿，您会关注编号 ' + number + ' 的这条上报，它的办理进度也会通知您。',
          confirmText: '是同一件事',
          cancelText: '不是',
          success: (res) => {
            if (!res.confirm) {
              resolve(false)
              return
            }
            // 订阅消息须在居民的点按里申请（弹窗的确认也算）；申请的结果不影响关注。
            const consent = subscribe.ask(['reportStatus'])
            this.setData({ supporting: number, nearbyError: '' })
            resolve(consent.then(() => this.doSupport(number)))
          },
          fail: () => resolve(false),
        })
      })
    },

    /** @param {string} number */
    async doSupport(number) {
      try {
        await api.support(number)
        drafts.clear()
        this.setData(Object.assign(derived(drafts.newDraft()), { supporting: '', nearby: [], categoryIndex: -1, townshipIndex: -1 }))
        wx.redirectTo({ url: '/pages/report/detail?number=' + encodeURIComponent(number) + '&relation=following&supported=1' })
        return true
      } catch (err) {
        await this.refreshNearby() // 那一条可能刚办完或被合并了
        this.setData({ supporting: '', nearbyError: explain(err) })
        return false
      }
    },

    // ---- 类别、描述、匿名
    /** @param {WechatMiniprogram.PickerChange} e */
    onCategoryChange(e) {
      const c = this.data.categories[Number(e.detail.value)]
      if (!c) return
      this.update(Object.assign({}, this.data.draft, { category: c.code }))
      this.setData({ categoryIndex: Number(e.detail.value), 'errors.category': '', nearbyError: '' })
      return this.refreshNearby()
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
          this.setData(Object.assign(derived(drafts.newDraft()), { errors: {}, errorMessage: '', categoryIndex: -1, townshipIndex: -1, keyReused: false, nearby: [], routeHint: '' }))
        },
      })
    },
  },
})
