/**
 * 上报详情：状态、办理单位和网格、办理过程（含工作人员答复）、处理前/处理后照片；
 * 办结后可以评价（星级 + 意见），或说明原因要求重办。
 */
const api = require('../../services/api')
const { explain } = require('../../services/errors')
const { formatTime, statusInfo } = require('../../utils/format')

/**
 * 居民拍的照片与办结时工作人员拍的照片分开：服务器给 completion_photos，或照片带 kind: 'completion'。
 * @param {import('../../services/api').Report} r
 */
function splitPhotos(r) {
  const all = r.photos || []
  const before = all.filter((p) => p.kind !== 'completion')
  const after = (r.completion_photos || []).concat(all.filter((p) => p.kind === 'completion'))
  return { before, after }
}

/** @param {import('../../services/api').Report} r */
function view(r) {
  const { before, after } = splitPhotos(r)
  const grid = r.grid && r.grid.name ? (r.grid.community ? r.grid.community + ' · ' : '') + r.grid.name : ''
  return {
    number: r.number,
    status: r.status,
    hint: statusInfo(r.status).hint,
    category: r.category.name,
    description: r.description,
    address: r.location && r.location.address ? r.location.address : '',
    township: r.township ? r.township.name : '',
    grid,
    anonymous: r.anonymous,
    createdAt: formatTime(r.created_at),
    reply: r.reply || '',
    rating: r.rating,
    mergedInto: r.merged_into || '',
    timeline: r.timeline || [],
    before,
    after,
    canRate: r.status === 'resolved',
  }
}

Component({
  data: {
    number: '',
    report: /** @type {ReturnType<typeof view> | null} */ (null),
    score: 0,
    comment: '',
    reason: '',
    showReopen: false,
    busy: false,
    errorMessage: '',
    formError: '',
    notice: '',
  },
  methods: {
    /** @param {Record<string, string | undefined>} query */
    onLoad(query) {
      this.setData({ number: (query && query.number) || '' })
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    async load() {
      if (!this.data.number) {
        this.setData({ errorMessage: '缺少上报编号' })
        return
      }
      try {
        const r = await api.report(this.data.number)
        this.setData({ report: view(r), errorMessage: '' })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /** @param {WechatMiniprogram.CustomEvent<{ value: number }>} e */
    onScore(e) {
      this.setData({ score: e.detail.value, formError: '' })
    },
    /** @param {WechatMiniprogram.Input} e */
    onComment(e) {
      this.setData({ comment: e.detail.value })
    },
    /** @param {WechatMiniprogram.Input} e */
    onReason(e) {
      this.setData({ reason: e.detail.value, formError: '' })
    },
    onToggleReopen() {
      this.setData({ showReopen: !this.data.showReopen, formError: '' })
    },
    async onRate() {
      if (this.data.busy) return
      if (!this.data.score) {
        this.setData({ formError: '请先点星星打分（1 到 5 星）' })
        return
      }
      this.setData({ busy: true, formError: '' })
      try {
        const r = await api.rate(this.data.number, this.data.score, this.data.comment.trim())
        this.setData({ report: view(r), notice: '谢谢您的评价！', score: 0, comment: '' })
      } catch (err) {
        this.setData({ formError: explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
    async onReopen() {
      if (this.data.busy) return
      const reason = this.data.reason.trim()
      if (!reason) {
        this.setData({ formError: '请说说哪里还没解决，工作人员会照着重新办' })
        return
      }
      this.setData({ busy: true, formError: '' })
      try {
        const r = await api.reopen(this.data.number, reason)
        this.setData({ report: view(r), notice: '已要求重新办理，工作人员会再来处理。', reason: '', showReopen: false })
      } catch (err) {
        this.setData({ formError: explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
    onOpenMerged() {
      const r = this.data.report
      if (r && r.mergedInto) wx.redirectTo({ url: '/pages/report/detail?number=' + encodeURIComponent(r.mergedInto) })
    },
  },
})
