// Device numbers: glibc's makedev(3), the one encoding of dev_t that both the
// kernel and every libc use (a 12-bit major and a 20-bit minor, split across
// a 64-bit value). The plan's mknod and image extraction both use it.

export function makeDevice(major: number, minor: number): number {
  const low = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12);
  return (low >>> 0) + Math.floor(major / 0x1000) * 2 ** 44;
}
