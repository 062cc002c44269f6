/**
 * 坐标系换算。wx.getLocation({type: 'wgs84'}) 给的是 WGS-84（GPS），wx.chooseLocation 给的是
 * 国测局 GCJ-02（地图坐标）。上报统一用 WGS-84，所以地图选点要换回去。
 * 换算是公开的 GCJ-02 偏移公式；反算用迭代，误差小于 1e-7 度（约 1 厘米）。
 */

const A = 6378245.0
const EE = 0.00669342162296594323

/** @param {number} lat @param {number} lng */
function outOfChina(lat, lng) {
  return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271
}

/** @param {number} x @param {number} y */
function dLatRaw(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3
  r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3
  r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3
  return r
}

/** @param {number} x @param {number} y */
function dLngRaw(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3
  r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3
  r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3
  return r
}

/**
 * WGS-84 → GCJ-02
 * @param {number} lat @param {number} lng
 * @returns {{ lat: number, lng: number }}
 */
function wgsToGcj(lat, lng) {
  if (outOfChina(lat, lng)) return { lat, lng }
  let dLat = dLatRaw(lng - 105, lat - 35)
  let dLng = dLngRaw(lng - 105, lat - 35)
  const radLat = lat / 180 * Math.PI
  let magic = Math.sin(radLat)
  magic = 1 - EE * magic * magic
  const sqrtMagic = Math.sqrt(magic)
  dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI)
  dLng = (dLng * 180) / (A / sqrtMagic * Math.cos(radLat) * Math.PI)
  return { lat: lat + dLat, lng: lng + dLng }
}

/**
 * GCJ-02 → WGS-84（迭代反算）
 * @param {number} lat @param {number} lng
 * @returns {{ lat: number, lng: number }}
 */
function gcjToWgs(lat, lng) {
  if (outOfChina(lat, lng)) return { lat, lng }
  let w = { lat, lng }
  for (let i = 0; i < 10; i++) {
    const g = wgsToGcj(w.lat, w.lng)
    const eLat = g.lat - lat
    const eLng = g.lng - lng
    w = { lat: w.lat - eLat, lng: w.lng - eLng }
    if (Math.abs(eLat) < 1e-9 && Math.abs(eLng) < 1e-9) break
  }
  return { lat: round6(w.lat), lng: round6(w.lng) }
}

/** @param {number} v 保留 7 位小数（约 1 厘米） */
function round6(v) {
  return Math.round(v * 1e7) / 1e7
}

/**
 * 两点间地面距离（米，haversine）。
 * @param {number} lat1 @param {number} lng1 @param {number} lat2 @param {number} lng2
 */
function distanceM(lat1, lng1, lat2, lng2) {
  const R = 6371008.8
  const toRad = (/** @type {number} */ d) => d * Math.PI / 180
  const dLat = toRad(lat2 - lat1)
  const dLng = toRad(lng2 - lng1)
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(lat1)) * Math.cos(toRad(lat2)) * Math.sin(dLng / 2) ** 2
  return 2 * R * Math.asin(Math.sqrt(h))
}

module.exports = { wgsToGcj, gcjToWgs, distanceM, outOfChina }
