"""The participants' admin pages, one module per subject; registered here, in one list."""

from django.contrib import admin

from participants.admin_data import ParticipantAdmin, ParticipantErasureAdmin
from participants.admin_participations import ParticipationAdmin
from participants.admin_sso import LoginAttemptAdmin
from participants.models import LoginAttempt, Participant, ParticipantErasure, Participation

admin.site.register(Participation, ParticipationAdmin)
admin.site.register(Participant, ParticipantAdmin)
admin.site.register(ParticipantErasure, ParticipantErasureAdmin)
admin.site.register(LoginAttempt, LoginAttemptAdmin)
