/** 一组照片（只看不改），点开可放大。用于“处理前 / 处理后”。 */
Component({
  properties: {
    title: { type: String, value: '' },
    photos: { type: Array, value: [] },
    emptyText: { type: String, value: '' },
  },
  methods: {
    /** @param {WechatMiniprogram.BaseEvent} e */
    onPreview(e) {
      const photos = /** @type {Array<{ url: string }>} */ (this.data.photos)
      wx.previewImage({ current: String(e.currentTarget.dataset.url), urls: photos.map((p) => p.url) })
    },
  },
})
