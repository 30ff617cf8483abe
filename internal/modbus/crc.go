package modbus

// crcTable is the table for CRC-16/MODBUS (polynomial 0x8005 reflected, 0xA001; initial value 0xFFFF),
// Modbus over Serial Line v1.02 §6.2.2.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of b. On the wire it goes low byte first.
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, v := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^v]
	}
	return crc
}

// appendCRC appends the CRC of b to b, low byte first.
func appendCRC(b []byte) []byte {
	c := CRC(b)
	return append(b, byte(c), byte(c>>8))
}

// crcOK reports whether frame (data followed by its CRC) is intact.
func crcOK(frame []byte) bool {
	n := len(frame)
	return n >= 3 && CRC(frame[:n-2]) == uint16(frame[n-2])|uint16(frame[n-1])<<8
}
