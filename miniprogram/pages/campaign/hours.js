/** 我的志愿时长：合计和每次活动记入的时长。 */
const api = require('../../services/api')
const { explain } = require('../../services/errors')
const { formatTime, formatHours } = require('../../utils/format')

Component({
  data: {
    total: '',
    items: /** @type {Array<{ key: string, title: string, hours: string, time: string }>} */ ([]),
    loaded: false,
    errorMessage: '',
  },
  methods: {
    onShow() {
      return this.load()
    },
    async load() {
      try {
        const out = await api.volunteerHours()
        this.setData({
          total: formatHours(out.total_hours),
          items: out.items.map((x, i) => ({ key: String(x.campaign || i), title: String(x.title || x.campaign || ''), hours: formatHours(x.hours), time: formatTime(x.credited_at) })),
          loaded: true,
          errorMessage: '',
        })
      } catch (err) {
        this.setData({ errorMessage: explain(err), loaded: true })
      }
    },
  },
})
