/** 设置居住地：按当前位置自动找网格，或依次选乡镇/街道 → 村/社区 → 网格。 */
const api = require('../../services/api')
const location = require('../../services/location')
const { explain } = require('../../services/errors')

Component({
  data: {
    townships: /** @type {Array<{ code: string, name: string }>} */ ([]),
    communities: /** @type {Array<{ id: number, name: string }>} */ ([]),
    grids: /** @type {Array<{ id: number, name: string }>} */ ([]),
    ti: -1,
    ci: -1,
    gi: -1,
    current: '',
    busy: false,
    errorMessage: '',
    message: '',
  },
  methods: {
    async onLoad() {
      try {
        const [t, h] = await Promise.all([api.townships(), api.home()])
        this.setData({ townships: t.items.map((x) => ({ code: x.code, name: x.name })), current: this.describe(h) })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /** @param {{ township: { name: string } | null, community: { name: string } | null, grid: { name: string } | null }} h */
    describe(h) {
      return [h.township && h.township.name, h.community && h.community.name, h.grid && h.grid.name].filter(Boolean).join(' · ')
    },
    /** @param {WechatMiniprogram.PickerChange} e */
    async onTownship(e) {
      const ti = Number(e.detail.value)
      this.setData({ ti, ci: -1, gi: -1, communities: [], grids: [] })
      try {
        const c = await api.communities(this.data.townships[ti].code)
        this.setData({ communities: c.items.map((x) => ({ id: x.id, name: x.name })) })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /** @param {WechatMiniprogram.PickerChange} e */
    async onCommunity(e) {
      const ci = Number(e.detail.value)
      this.setData({ ci, gi: -1, grids: [] })
      try {
        const g = await api.grids(this.data.communities[ci].id)
        this.setData({ grids: g.items.map((x) => ({ id: x.id, name: x.name })) })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      }
    },
    /** @param {WechatMiniprogram.PickerChange} e */
    onGrid(e) {
      this.setData({ gi: Number(e.detail.value) })
    },
    async onSave() {
      const { ti, ci, gi, townships, communities, grids } = this.data
      if (ti < 0) {
        this.setData({ errorMessage: '请至少选择乡镇/街道' })
        return
      }
      await this.save({
        township: townships[ti].code,
        community: ci >= 0 ? communities[ci].id : null,
        grid: gi >= 0 ? grids[gi].id : null,
      })
    },
    async onLocate() {
      this.setData({ busy: true, errorMessage: '' })
      try {
        const here = await location.currentPlace()
        await this.save({ lat: here.lat, lng: here.lng })
      } catch (err) {
        this.setData({ errorMessage: err instanceof location.LocationError ? err.message : explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
    /** @param {Parameters<typeof api.setHome>[0]} body */
    async save(body) {
      this.setData({ busy: true, errorMessage: '', message: '' })
      try {
        const h = await api.setHome(body)
        this.setData({ current: this.describe(h), message: '已保存。' })
      } catch (err) {
        this.setData({ errorMessage: explain(err) })
      } finally {
        this.setData({ busy: false })
      }
    },
  },
})
