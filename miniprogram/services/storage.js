/** 本地存储的小封装：所有键都带 tx: 前缀；读坏了当作没有。 */

const PREFIX = 'tx:'

/**
 * @template T
 * @param {string} key
 * @param {T} fallback
 * @returns {T}
 */
function read(key, fallback) {
  try {
    const value = wx.getStorageSync(PREFIX + key)
    return value === '' || value === undefined || value === null ? fallback : value
  } catch (e) {
    return fallback
  }
}

/**
 * @param {string} key
 * @param {unknown} value
 */
function write(key, value) {
  wx.setStorageSync(PREFIX + key, value)
}

/** @param {string} key */
function remove(key) {
  try {
    wx.removeStorageSync(PREFIX + key)
  } catch (e) {
    // 已经没有了
  }
}

module.exports = { read, write, remove, PREFIX }
