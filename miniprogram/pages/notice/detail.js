/** 通知详情：正文用 rich-text 显示（服务器已清洗）；打开即回执已读，也可以点「我已阅读」确认。 */
const api = require('../../services/api')
const { explain } = require('../../services/errors')
const { formatTime } = require('../../utils/format')
const { prepareNoticeHtml } = require('../../services/community')

Component({
  data: {
    number: '',
    notice: /** @type {null | { title: string, publisher: string, time: string, html: string, images: any[], withdrawn: boolean, reason: string, scope: string }} */ (null),
    readAt: '',
    errorMessage: '',
    ackError: '',
  },
  methods: {
    /** @param {Record<string, string | undefined>} query */
    async onLoad(query) {
      this.setData({ number: (query && query.number) || '' })
      await this.load()
      if (this.data.notice) await this.onAcknowledge()
    },
    async load() {
      try {
        const n = await api.notice(this.data.number)
        const t = n.target || {}
        const scope = t.level === 'county' ? '全县' : [t.township && t.township.name, t.community && t.community.name, t.grid && t.grid.name].filter(Boolean).join(' · ')
        this.setData({
          notice: {
            title: n.title,
            publisher: n.publisher,
            time: formatTime(n.published_at),
            html: prepareNoticeHtml(n.body_html),
            images: n.images || [],
            withdrawn: n.status === 'withdrawn',
            reason: n.withdraw_reason || '',
            scope,
          },
          errorMessage: '',
        })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    async onAcknowledge() {
      try {
        const out = await api.markNoticeRead(this.data.number)
        this.setData({ readAt: formatTime(out.read_at), ackError: '' })
      } catch (err) {
        this.setData({ ackError: explain(err) })
      }
    },
  },
})
