# The second generator family (for RISA's transfer across models):
# weight-modulated convolutions and transposed-convolution upsampling
# instead of AdaIN residual blocks and nearest upsampling.
_base_ = ['./risa_adain_skimage-32px.py']

generator = dict(
    model=dict(
        decoder=dict(_delete_=True, type='RISModulatedDecoder',
                     num_blocks=2)))
