/**
 * 志愿活动详情：报名（满员进候补，显示候补顺位）、取消报名、现场扫码签到（带位置核对）。
 */
const api = require('../../services/api')
const subscribe = require('../../services/subscribe')
const { explain, ApiError } = require('../../services/errors')
const { formatTime, formatHours } = require('../../utils/format')
const { CAMPAIGN_STATUS, signupText, scan, checkinWith } = require('../../services/community')

/** @param {any} c */
function view(c) {
  const s = c.my_signup && c.my_signup.status !== 'cancelled' ? c.my_signup : null
  return {
    number: String(c.number),
    title: String(c.title),
    description: String(c.description || ''),
    status: String(c.status),
    statusText: CAMPAIGN_STATUS[c.status] || String(c.status),
    time: formatTime(c.starts_at) + ' ~ ' + formatTime(c.ends_at),
    place: c.place && c.place.name ? String(c.place.name) : '',
    radius: c.place && c.place.lat !== null && c.place.lat !== undefined ? Number(c.place.radius_m) : 0,
    seats: c.taken + '/' + c.capacity,
    waitlisted: Number(c.waitlisted || 0),
    hours: formatHours(c.hours),
    skills: (c.skills || []).join('、'),
    report: c.report || '',
    signedUp: !!s,
    waitlist: s && s.status === 'waitlisted' ? Number(s.position) : 0,
    checkedIn: !!(s && s.checked_in_at),
    canCheckin: !!(s && s.status === 'confirmed' && !s.checked_in_at && c.status === 'published'),
    mine: signupText(s),
    open: c.status === 'published',
  }
}

Component({
  data: {
    number: '',
    campaign: /** @type {ReturnType<typeof view> | null} */ (null),
    name: '',
    phone: '',
    code: '',
    busy: false,
    errorMessage: '',
    actionError: '',
    message: '',
    why: subscribe.WHY.campaign,
  },
  methods: {
    /** @param {Record<string, string | undefined>} query */
    onLoad(query) {
      this.setData({ number: (query && query.number) || '' })
      return this.load()
    },
    async load() {
      try {
        this.setData({ campaign: view(await api.campaign(this.data.number)), errorMessage: '' })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /** @param {WechatMiniprogram.Input} e */
    onName(e) { this.setData({ name: e.detail.value }) },
    /** @param {WechatMiniprogram.Input} e */
    onPhone(e) { this.setData({ phone: e.detail.value }) },
    /** @param {WechatMiniprogram.Input} e */
    onCode(e) { this.setData({ code: e.detail.value }) },

    onSignup() {
      if (this.data.busy) return Promise.resolve()
      const phone = this.data.phone.trim()
      if (phone && !/^\+?[0-9 -]{5,20}$/.test(phone)) {
        this.setData({ actionError: '电话号码只能是数字，可以不填' })
        return Promise.resolve()
      }
      const consent = subscribe.ask(['campaign'])
      this.setData({ busy: true, actionError: '', message: '' })
      return consent.then(() => this.act(async () => {
        const out = await api.signup(this.data.number, { name: this.data.name.trim(), phone })
        const s = out && (out.my_signup || out)
        return s && s.status === 'waitlisted' ? '名额已满，您已进入候补第 ' + s.position + ' 位。有人取消时会按顺序自动转为正式报名。' : '报名成功！请按时到场，到场后扫码签到。'
      }))
    },
    onCancel() {
      return new Promise((resolve) => {
        wx.showModal({
          title: '取消报名',
          content: '取消后名额会让给候补的人，确定取消吗？',
          confirmText: '取消报名',
          cancelText: '再想想',
          success: (res) => {
            if (!res.confirm) return resolve(undefined)
            this.setData({ busy: true, actionError: '', message: '' })
            resolve(this.act(async () => {
              await api.cancelSignup(this.data.number)
              return '已取消报名。'
            }))
          },
          fail: () => resolve(undefined),
        })
      })
    },
    async onScan() {
      if (this.data.busy) return
      let text = ''
      try {
        text = await scan()
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'scan_cancelled')) this.setData({ actionError: '没有扫到二维码，可以手动输入现场的 6 位签到码。' })
        return
      }
      this.setData({ busy: true, actionError: '', message: '' })
      await this.act(async () => this.checkinMessage(await checkinWith(this.data.number, text)))
    },
    async onManualCheckin() {
      if (this.data.busy) return
      if (!/^\d{6}$/.test(this.data.code.trim())) {
        this.setData({ actionError: '签到码是现场工作人员出示的 6 位数字' })
        return
      }
      this.setData({ busy: true, actionError: '', message: '' })
      await this.act(async () => this.checkinMessage(await checkinWith(this.data.number, this.data.code)))
    },
    /** @param {{ distance_m: number | null }} out */
    checkinMessage(out) {
      return '签到成功！' + (out.distance_m !== null && out.distance_m !== undefined ? '（距活动地点约 ' + Math.round(out.distance_m) + ' 米）' : '') + ' 活动结束后会记入志愿时长。'
    },
    /** @param {() => Promise<string>} step */
    async act(step) {
      try {
        const message = await step()
        this.setData({ message, code: '' })
        await this.load()
      } catch (err) {
        this.setData({ actionError: explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
    onHours() {
      wx.navigateTo({ url: '/pages/campaign/hours' })
    },
  },
})
