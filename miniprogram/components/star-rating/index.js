/** 五星评价。每颗星是一个按钮，读屏会读“3 星，一般”。 */
const WORDS = ['', '很不满意', '不满意', '一般', '满意', '非常满意']

Component({
  properties: {
    value: { type: Number, value: 0 },
    readonly: { type: Boolean, value: false },
  },
  data: {
    stars: [1, 2, 3, 4, 5].map((n) => ({ n, word: WORDS[n] })),
    word: '',
  },
  observers: {
    value(v) {
      this.setData({ word: WORDS[Number(v) || 0] || '' })
    },
  },
  methods: {
    /** @param {WechatMiniprogram.BaseEvent} e */
    onTap(e) {
      if (this.data.readonly) return
      const n = Number(e.currentTarget.dataset.n)
      this.setData({ value: n, word: WORDS[n] })
      this.triggerEvent('change', { value: n })
    },
  },
})
