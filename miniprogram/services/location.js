/**
 * 位置：wx.getLocation（type 'wgs84'）取当前位置，或 wx.chooseLocation 在地图上选点（换算回 WGS-84）。
 */
const { gcjToWgs, wgsToGcj } = require('../utils/coords')

/**
 * @typedef {{ lat: number, lng: number, address: string, source: 'gps'|'map' }} Place
 */

class LocationError extends Error {
  /** @param {'denied'|'cancelled'|'failed'} reason @param {string} message */
  constructor(reason, message) {
    super(message)
    this.name = 'LocationError'
    this.reason = reason
  }
}

/** @param {any} err */
function fromWxError(err) {
  const msg = String((err && err.errMsg) || '')
  if (/cancel/i.test(msg)) return new LocationError('cancelled', '已取消选择位置')
  if (/auth|deny|denied|privacy|permission/i.test(msg)) {
    return new LocationError('denied', '没有位置权限。请点右上角「···」→「设置」打开「位置信息」，或在地图上选一个位置。')
  }
  return new LocationError('failed', '暂时获取不到位置，请到开阔处重试，或在地图上选一个位置。')
}

/** @returns {Promise<Place>} 当前位置（WGS-84） */
function currentPlace() {
  return new Promise((resolve, reject) => {
    wx.getLocation({
      type: 'wgs84',
      isHighAccuracy: true,
      success: (res) => resolve({ lat: res.latitude, lng: res.longitude, address: '', source: 'gps' }),
      fail: (err) => reject(fromWxError(err)),
    })
  })
}

/**
 * 在地图上选点；near 为当前位置时地图从那里打开。
 * @param {{ lat: number, lng: number } | null} [near]
 * @returns {Promise<Place>}
 */
function pickOnMap(near) {
  /** @type {WechatMiniprogram.ChooseLocationOption} */
  const opts = {
    success: (res) => {
      const w = gcjToWgs(res.latitude, res.longitude)
      const address = [res.name, res.address].filter(Boolean).join(' ')
      resolver({ lat: w.lat, lng: w.lng, address, source: 'map' })
    },
    fail: (err) => rejecter(fromWxError(err)),
  }
  if (near) {
    const g = wgsToGcj(near.lat, near.lng)
    opts.latitude = g.lat
    opts.longitude = g.lng
  }
  /** @type {(p: Place) => void} */
  let resolver = () => {}
  /** @type {(e: Error) => void} */
  let rejecter = () => {}
  return new Promise((resolve, reject) => {
    resolver = resolve
    rejecter = reject
    wx.chooseLocation(opts)
  })
}

/** @param {Place} p 给居民看的位置说明 */
function describe(p) {
  if (p.address) return p.address
  return '当前位置（' + p.lat.toFixed(5) + ', ' + p.lng.toFixed(5) + '）'
}

module.exports = { currentPlace, pickOnMap, describe, LocationError }
