"""The trained models: tiny transformers, the diffusion UNet and its checkpoints, Stable Diffusion in
latent space, a pretrained encoder and the local hub cache, LoRA fine-tuning."""
