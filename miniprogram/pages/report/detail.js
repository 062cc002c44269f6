/**
 * 上报详情：状态、办理单位和网格、办理过程（含工作人员答复）、处理前（photos）/处理后
 * （completion_photos）照片、几位居民也遇到；自己报的办结后可以评价（星级 + 意见），或说明原因
 * 要求重办。「我也遇到」关注的（relation=following）只看进度。
 */
const api = require('../../services/api')
const { explain } = require('../../services/errors')
const { formatTime, statusInfo } = require('../../utils/format')

/** @param {import('../../services/api').Report} r */
function view(r) {
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
    before: r.photos || [],
    after: r.completion_photos || [],
    supporters: r.supporters || 0,
  }
}

Component({
  data: {
    number: '',
    following: false,
    canRate: false,
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
      const following = !!query && query.relation === 'following'
      this.setData({
        number: (query && query.number) || '',
        following,
        notice: query && query.supported ? '已记下您也遇到了这个问题。办理进度会通知您，也可以在「我的上报」里查看。' : '',
      })
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
        this.show(r, { errorMessage: '' })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /**
     * @param {import('../../services/api').Report} r
     * @param {Record<string, any>} [more]
     */
    show(r, more) {
      const canRate = r.status === 'resolved' && !this.data.following
      this.setData(Object.assign({ report: view(r), canRate }, more || {}))
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
        this.show(r, { notice: '谢谢您的评价！', score: 0, comment: '' })
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
        this.show(r, { notice: '已要求重新办理，工作人员会再来处理。', reason: '', showReopen: false })
      } catch (err) {
        this.setData({ formError: explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
    onOpenMerged() {
      const r = this.data.report
      // 合并后，原来的上报人关注着主上报（CONTRACT §4 合并）
      if (r && r.mergedInto) wx.redirectTo({ url: '/pages/report/detail?number=' + encodeURIComponent(r.mergedInto) + '&relation=following' })
    },
  },
})
