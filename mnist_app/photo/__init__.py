"""Reading digits in phone photos of paper: uneven light, shadows, coloured ink, ruled
lines, a tilted sheet, blur and JPEG noise.

The pipeline (``find_digits_in_photo``), on a copy downscaled to ``WORK_SIDE``:

1. polarity: is the ink darker or lighter than the paper? Then one "ink channel"
   where ink is dark whatever its colour (the darkest RGB channel, so blue or red
   ink is as dark as black ink);
2. flatten the light: the paper's brightness is estimated by a grey-level closing
   (a local maximum then minimum, which erases strokes narrower than the window but
   keeps the hard edge of a shadow), and the photo is divided by it, so shadows
   and gradients vanish and ink becomes "darkness" in [0, 1];
3. threshold locally: a pixel is ink when it is darker than both the paper's noise
   allows and half the darkest ink around it (so faint, blurred and bold digits
   all keep their full strokes);
4. clean up: long straight near-horizontal lines (ruled paper) are found with a
   Hough transform and their own darkness subtracted (a pen stroke crossing them
   stays), specks and the sheet's edge or the table are dropped;
5. digit regions: connected components, broken strokes merged, touching digits
   split at the column with least ink, size and shape outliers flagged, read in
   rows top to bottom, left to right;
6. each region through the same path as the canvas: its ink is masked out,
   ``preprocess.normalise_stroke_width`` then ``preprocess.fit_to_mnist``.

``crops_from_picture`` is the one entry point for any picture: canvas-style drawings
go to ``segmentation.segment_digits``, photos here.

The stages live in one module each: ``pixels`` (shared helpers), ``light`` (1-2),
``threshold`` (3), ``lines`` (4), ``regions`` (5) and ``pipeline`` (6 and the whole).
"""

from mnist_app.photo.pipeline import (
                                      WORK_SIDE,
                                      PhotoAnalysis,
                                      analyse_picture,
                                      annotated,
                                      crops_from_picture,
                                      find_digits_in_photo,
                                      looks_like_photo,
                                      scale_crop,
)
from mnist_app.segmentation import reading_order

__all__ = ["WORK_SIDE", "PhotoAnalysis", "analyse_picture", "annotated", "crops_from_picture",
           "find_digits_in_photo", "looks_like_photo", "reading_order", "scale_crop"]
