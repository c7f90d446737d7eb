"""The order of an item's elements, as the EWS schema (types.xsd) defines it.

Exchange always answers in schema order, and clients that validate (or read by position)
depend on it; the emulator stores items as clients sent and changed them, so it sorts each
rendered item by these tables. tests/sandbox/test_schema_order.py checks them against the
official types.xsd.
"""

from __future__ import annotations


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ITEM = _names("""
    MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments
    DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe
    IsResend IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated
    ResponseObjects ReminderDueBy ReminderIsSet ReminderNextTime ReminderMinutesBeforeStart
    DisplayCc DisplayTo DisplayBcc HasAttachments ExtendedProperty Culture EffectiveRights
    LastModifiedName LastModifiedTime IsAssociated WebClientReadFormQueryString
    WebClientEditFormQueryString ConversationId UniqueBody Flag StoreEntryId InstanceKey
    NormalizedBody EntityExtractionResult PolicyTag ArchiveTag RetentionDate Preview
    RightsManagementLicenseData PredictedActionReasons IsClutter BlockStatus
    HasBlockedImages TextBody IconIndex SearchKey SortKey Hashtags Mentions MentionedMe
    MentionsPreview MentionsEx AppliedHashtags AppliedHashtagsPreview Likes LikesPreview
    PendingSocialActivityTagIds AtAllMention CanDelete InferenceClassification
""")

_CALENDAR_ITEM = _names("""
    UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent
    LegacyFreeBusyStatus Location When IsMeeting IsCancelled IsRecurring
    MeetingRequestWasSent IsResponseRequested CalendarItemType MyResponseType Organizer
    RequiredAttendees OptionalAttendees Resources InboxReminders ConflictingMeetingCount
    AdjacentMeetingCount ConflictingMeetings AdjacentMeetings Duration TimeZone
    AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence
    FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone
    StartTimeZone EndTimeZone ConferenceType AllowNewTimeProposal IsOnlineMeeting
    MeetingWorkspaceUrl NetShowUrl EnhancedLocation StartWallClock EndWallClock
    StartTimeZoneId EndTimeZoneId IntendedFreeBusyStatus JoinOnlineMeetingUrl
    OnlineMeetingSettings IsOrganizer CalendarActivityData
""")

_CONTACT = _names("""
    FileAs FileAsMapping DisplayName GivenName Initials MiddleName Nickname CompleteName
    CompanyName EmailAddresses AbchEmailAddresses PhysicalAddresses PhoneNumbers
    AssistantName Birthday BusinessHomePage Children Companies ContactSource Department
    Generation ImAddresses JobTitle Manager Mileage OfficeLocation PostalAddressIndex
    Profession SpouseName Surname WeddingAnniversary HasPicture PhoneticFullName
    PhoneticFirstName PhoneticLastName Alias Notes Photo UserSMIMECertificate
    MSExchangeCertificate DirectoryId ManagerMailbox DirectReports AccountName
    IsAutoUpdateDisabled IsMessengerEnabled Comment ContactShortId ContactType Gender
    IsHidden ObjectId PassportId IsPrivate SourceId TrustLevel CreatedBy Urls Cid
    SkypeAuthCertificate SkypeContext SkypeId SkypeRelationship YomiNickname XboxLiveTag
    InviteFree HidePresenceAndProfile IsPendingOutbound SupportGroupFeeds UserTileHash
    UnifiedInbox Mris Wlid AbchContactId NotInBirthdayCalendar ShellContactType ImMri
    PresenceTrustLevel OtherMri ProfileLastChanged MobileIMEnabled
    PartnerNetworkProfilePhotoUrl PartnerNetworkThumbnailPhotoUrl PersonId ConversationGuid
""")

_TASK = _names("""
    ActualWork AssignedTime BillingInformation ChangeCount Companies CompleteDate Contacts
    DelegationState Delegator DueDate IsAssignmentEditable IsComplete IsRecurring IsTeamTask
    Mileage Owner PercentComplete Recurrence StartDate Status StatusDescription TotalWork
""")

_MESSAGE = _names("""
    Sender ToRecipients CcRecipients BccRecipients IsReadReceiptRequested
    IsDeliveryReceiptRequested ConversationIndex ConversationTopic From InternetMessageId
    IsRead IsResponseRequested References ReplyTo ReceivedBy ReceivedRepresenting
    ApprovalRequestData VotingInformation ReminderMessageData SenderSMTPAddress MailboxGuids
""")

ORDER: dict[str, tuple[str, ...]] = {
    "Item": ITEM,
    "CalendarItem": ITEM + _CALENDAR_ITEM,
    "Contact": ITEM + _CONTACT,
    "Task": ITEM + _TASK,
    "Message": ITEM + _MESSAGE,
}
"""An item's element name -> its children's names in schema order (the base type's first)."""
