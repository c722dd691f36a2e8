package main

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // init images may be JPEG
	_ "image/png"
	"os"

	"github.com/imggen/imggen/internal/pipeline"
)

// maxImageSide bounds the init image and mask before they are decoded, so
// a huge (or hostile) file fails at once instead of exhausting memory.
const maxImageSide = 4096

// readImage decodes a PNG or JPEG file (any colour model the standard
// library reads).
func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("%s: not a PNG or JPEG image", path)
		}
		return nil, fmt.Errorf("%s: cannot read image: %v", path, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return nil, fmt.Errorf("%s: image is %dx%d; each side must be 1 to %d pixels", path, cfg.Width, cfg.Height, maxImageSide)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s image: %v", path, format, err)
	}
	return img, nil
}

// prepareImages loads -i and --mask into the request (pipeline.FitImages
// settles the size). Every failure is a usage error.
func (o *genOptions) prepareImages(req *pipeline.Request, strengthSet bool) error {
	if o.initImage == "" {
		switch {
		case o.mask != "":
			return usagef("--mask needs an init image (-i/--init-image)")
		case o.resize:
			return usagef("--resize needs an init image (-i/--init-image)")
		case strengthSet:
			return usagef("--strength needs an init image (-i/--init-image)")
		}
		return nil
	}
	img, err := readImage(o.initImage)
	if err != nil {
		return usagef("-i/--init-image: %v", err)
	}
	var mask image.Image
	if o.mask != "" {
		if mask, err = readImage(o.mask); err != nil {
			return usagef("--mask: %v", err)
		}
	}
	if err := pipeline.FitImages(req, img, mask, o.resize); err != nil {
		return usagef("%v", err)
	}
	req.Strength = o.strength
	return nil
}
