package world

// HSV converts sRGB to hue in degrees [0,360), saturation and value in [0,1].
func HSV(r, g, b uint8) (h, s, v float64) {
	rf, gf, bf := float64(r)/255, float64(g)/255, float64(b)/255
	mx := max(rf, gf, bf)
	mn := min(rf, gf, bf)
	v = mx
	if mx == 0 {
		return 0, 0, 0
	}
	s = (mx - mn) / mx
	d := mx - mn
	if d == 0 {
		return 0, s, v
	}
	switch mx {
	case rf:
		h = 60 * (gf - bf) / d
	case gf:
		h = 60 * (2 + (bf-rf)/d)
	default:
		h = 60 * (4 + (rf-gf)/d)
	}
	if h < 0 {
		h += 360
	}
	return h, s, v
}

// ColourName names the palette colour a pixel shows, by hue, saturation and
// value rules that tolerate the scene light and the style filters (a dark
// yellow is still yellow, a dark orange is brown, a pale red is pink).
func ColourName(r, g, b uint8) string {
	h, s, v := HSV(r, g, b)
	switch {
	case v < 0.22:
		return "black"
	case s < 0.22 || (s < 0.3 && v < 0.45):
		if v > 0.6 {
			return "white"
		}
		return "black"
	}
	switch {
	case h < 12 || h >= 340:
		if s < 0.5 && v > 0.75 {
			return "pink"
		}
		if v < 0.5 && s < 0.85 {
			return "brown"
		}
		return "red"
	case h < 45:
		if v < 0.65 {
			return "brown"
		}
		return "orange"
	case h < 70:
		if v < 0.45 {
			return "brown"
		}
		return "yellow"
	case h < 170:
		return "green"
	case h < 255:
		return "blue"
	case h < 300:
		return "purple"
	default:
		return "pink"
	}
}
