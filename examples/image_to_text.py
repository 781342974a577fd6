"""Image to text with the built-in VLM engine: a captioning model (vision encoder-decoder) or
a chat VLM; images given as a path, bytes, a PIL image or a URL.

    python examples/image_to_text.py MODEL_FOLDER IMAGE [IMAGE ...]
"""
import sys
from pathlib import Path

import lazyllm

if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with lazyllm.TrainableModule(sys.argv[1]).start() as m:
        print('type:', m.type, '- images:', m.supports_image_input)
        for image in sys.argv[2:]:
            as_path = m('Describe the image.', lazyllm_files=[image], temperature=0,
                        max_tokens=16)
            as_bytes = m('Describe the image.', lazyllm_files=[Path(image).read_bytes()],
                         temperature=0, max_tokens=16)
            print(f'{Path(image).name}: {as_path!r} (same from bytes: {as_path == as_bytes})')
